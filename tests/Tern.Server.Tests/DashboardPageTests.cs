using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The dashboard in a real headless Chromium against a real broker and real MQTT clients.</summary>
public sealed class DashboardPageTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task Login_shows_the_default_password_warning_and_the_connected_client_count()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var first = await dashboard.Broker.ConnectAsync(TestIds.Client("page"));
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);

        await page.LogInAndWaitAsync();

        Assert.True(await page.IsVisibleAsync("#default-password-banner"), "the default-password warning is shown");
        await page.WaitForTextAsync("#stat-connections", "1");

        // The overview follows the broker: a second client shows up on a later refresh.
        await using var second = await dashboard.Broker.ConnectAsync(TestIds.Client("page"));
        await page.WaitForTextAsync("#stat-connections", "2");
        await page.WaitForTextAsync("#fact-version", TernServer.Version);

        // The session lives in a cookie: a reload stays logged in.
        await page.Page.ReloadAsync();
        await page.Page.WaitForSelectorAsync("#app", new PuppeteerSharp.WaitForSelectorOptions { Visible = true });
        await page.WaitForTextAsync("#stat-connections", "2");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_wrong_password_keeps_the_login_form_with_an_error()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);

        await page.LogInAsync("admin", "not-the-password");

        await page.WaitForTextAsync("#login-error", "Wrong user name or password.");
        Assert.False(await page.IsVisibleAsync("#app"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_changed_password_logs_in_without_the_warning()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Dashboard:Password"] = "s3cret-enough" });
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);

        await page.LogInAndWaitAsync("admin", "s3cret-enough");

        await page.WaitForTextAsync("#stat-connections", "0");
        Assert.False(await page.IsVisibleAsync("#default-password-banner"), "no warning once the password is changed");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_clients_table_lists_a_client_and_kick_disconnects_it()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectV5Async("esp32-kitchen", keepAlive: 120);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.GoToAsync("clients");
        const string Row = "#clients-table tr[data-client-id='esp32-kitchen']";
        await page.Page.WaitForSelectorAsync(Row);
        await page.WaitForTextAsync(Row + " td:nth-child(2)", "connected");
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "MQTT 5.0");
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "120 s");
        await page.WaitForTextAsync(Row + " td:nth-child(8)", "at disconnect");

        await page.Page.ClickAsync(Row + " button.kick");

        await device.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await page.Page.WaitForSelectorAsync(Row, new PuppeteerSharp.WaitForSelectorOptions { Hidden = true });
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_disconnected_persistent_session_is_listed_and_discard_ends_it()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        const string ClientId = "esp32-garage";
        var topic = TestIds.Topic();
        await using (var device = await dashboard.Broker.ConnectAsync(ClientId, cleanSession: false))
        {
            await device.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
            await device.DisconnectAsync();
        }

        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("clients");

        const string Row = "#clients-table tr[data-client-id='esp32-garage'][data-state='disconnected']";
        await page.Page.WaitForSelectorAsync(Row);
        await page.WaitForTextAsync(Row + " td:nth-child(2)", "disconnected");
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "–");
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", await page.TextAsync(Row + " td:nth-child(7)"));

        // A 3.1.1 persistent session expires after Broker:MaxSessionExpirySeconds (7 days by default).
        var expires = DateTime.ParseExact(await page.TextAsync(Row + " td:nth-child(8)") ?? "", "yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        var disconnected = DateTime.ParseExact(await page.TextAsync(Row + " td:nth-child(7)") ?? "", "yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromDays(7), expires - disconnected);
        dashboard.Broker.Server.Broker.Publish(topic, "queued while away"u8.ToArray(), MqttQoS.AtLeastOnce);
        await page.WaitForTextAsync(Row + " td:nth-child(9)", "1");
        Assert.Null(await page.Page.QuerySelectorAsync(Row + " button.kick"));

        await page.Page.ClickAsync(Row + " button.discard");

        await page.Page.WaitForSelectorAsync(Row, new PuppeteerSharp.WaitForSelectorOptions { Hidden = true });
        await page.WaitForTextAsync("#stat-sessions", "0");
        await using var back = await dashboard.Broker.OpenRawAsync();
        var connAck = await back.ConnectAsync(ClientId, cleanSession: false);
        Assert.False(connAck.SessionPresent, "the discarded session is not resumed");
        await back.ExpectNoPacketAsync();
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Dropped_messages_show_by_reason_on_the_overview_and_per_client_next_to_in_flight()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxQueuedMessages"] = "1" });
        const string Away = "esp32-away";
        var topic = TestIds.Topic();
        await using (var device = await dashboard.Broker.ConnectAsync(Away, cleanSession: false))
        {
            await device.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
            await device.DisconnectAsync();
        }

        await Eventually.HoldsAsync(
            async () => !(await dashboard.GetJsonAsync("api/v5/clients/" + Away)).GetProperty("connected").GetBoolean(), "the session is offline");
        await using var display = await dashboard.Broker.ConnectAsync("display-1");
        await display.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.WaitForTextAsync("#fact-dropped", "0");
        Assert.True(await page.IsVisibleAsync("#dropped-card .empty"), "nothing dropped yet");

        // The offline session queues one and loses two; the display gets all three and acknowledges none.
        await using var sensor = await dashboard.Broker.ConnectAsync("sensor-1");
        for (var i = 0; i < 3; i++)
        {
            await sensor.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        await sensor.PublishAsync("nobody/listens", "x", MqttQoS.AtLeastOnce);

        await page.WaitForTextAsync("#fact-dropped", "2");
        await page.WaitForTextAsync("#dropped-table tr[data-key='queue_full'] td:nth-child(2)", "2");
        await page.WaitForTextAsync("#dropped-table tr[data-key='no_subscribers'] td:nth-child(2)", "1");
        Assert.Equal(["queue_full", "no_subscribers"], await page.TextsAsync("#dropped-table tbody td:first-child"));
        Assert.Contains("Broker:MaxQueuedMessages", await page.TextAsync("#dropped-table tr[data-key='queue_full'] td:nth-child(3)"), StringComparison.Ordinal);
        Assert.False(await page.IsVisibleAsync("#dropped-card .empty"));

        await page.GoToAsync("clients");
        const string AwayRow = "#clients-table tr[data-client-id='esp32-away']";
        const string DisplayRow = "#clients-table tr[data-client-id='display-1']";
        Assert.Equal("In flight", await page.TextAsync("#clients-table th:nth-child(10)"));
        Assert.Equal("Dropped", await page.TextAsync("#clients-table th:nth-child(11)"));
        await page.WaitForTextAsync(AwayRow + " td:nth-child(9)", "1");
        await page.WaitForTextAsync(AwayRow + " td:nth-child(10)", "0");
        await page.WaitForTextAsync(AwayRow + " td:nth-child(11)", "2");
        Assert.Equal("queue_full: 2", await page.Page.EvaluateFunctionAsync<string>("s => document.querySelector(s).title", AwayRow + " td:nth-child(11)"));
        await page.WaitForTextAsync(DisplayRow + " td:nth-child(10)", "3");
        await page.WaitForTextAsync(DisplayRow + " td:nth-child(11)", "0");
        Assert.False(await page.Page.EvaluateFunctionAsync<bool>("s => document.querySelector(s).hasAttribute('title')", DisplayRow + " td:nth-child(11)"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_subscriber_behind_shows_the_publisher_it_slows_and_the_publisher_shows_it_is_slowed()
    {
        await using var dashboard = await DashboardBroker.StartAsync(
            new Dictionary<string, string?> { ["Broker:MaxInflight"] = "1", ["Broker:MaxQueuedMessages"] = "2" });
        var topic = TestIds.Topic();
        await using var display = await dashboard.Broker.ConnectAsync("slow-display");
        await display.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await using var sensor = await dashboard.Broker.ConnectAsync("sensor-9");

        // One in flight, two queued: the third PUBACK is held back until the display catches up.
        for (var i = 0; i < 3; i++)
        {
            await sensor.SendAsync(new PublishPacket { Topic = topic, Payload = "x"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = sensor.NextPacketId() });
        }

        await sensor.ReceiveAckAsync<PubAckPacket>();
        await sensor.ReceiveAckAsync<PubAckPacket>();
        var first = await display.ReceivePublishAsync(ack: false);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("clients");

        await page.WaitForTextAsync("#clients-table tr[data-client-id='slow-display'] td:nth-child(9)", "2 · slowing 1");
        await page.WaitForTextAsync("#clients-table tr[data-client-id='slow-display'] td:nth-child(10)", "1");
        await page.WaitForTextAsync("#clients-table tr[data-client-id='sensor-9'] td:nth-child(2)", "connected, slowed");

        await display.AcknowledgeAsync(first);
        await sensor.ReceiveAckAsync<PubAckPacket>();
        await page.WaitForTextAsync("#clients-table tr[data-client-id='sensor-9'] td:nth-child(2)", "connected");
        await page.WaitForTextAsync("#clients-table tr[data-client-id='slow-display'] td:nth-child(9)", "1");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_subscriptions_table_shows_each_subscription_with_its_options()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("sensor-hall");
        await device.SubscribeAsync("building/+/temp", MqttQoS.AtLeastOnce);
        await using var worker = await dashboard.Broker.ConnectV5Async("worker-1");
        await worker.SubscribeV5GrantedAsync("$share/workers/jobs/#", MqttQoS.ExactlyOnce, retainHandling: 2, subscriptionId: 7);
        await worker.SubscribeV5GrantedAsync("alerts/#", MqttQoS.AtMostOnce, noLocal: true, retainAsPublished: true, retainHandling: 1);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.GoToAsync("subscriptions");

        const string Rows = "#subscriptions-table tbody tr";
        await page.WaitForTextAsync(Rows + ":nth-child(1) td:nth-child(1)", "sensor-hall");
        await page.WaitForTextAsync(Rows + ":nth-child(1) td:nth-child(2)", "building/+/temp");
        await page.WaitForTextAsync(Rows + ":nth-child(1) td:nth-child(3)", "1");
        await page.WaitForTextAsync(Rows + ":nth-child(1) td:nth-child(4)", "no local off · retain as published off · retain handling 0 (send on subscribe)");
        await page.WaitForTextAsync(Rows + ":nth-child(2) td:nth-child(2)", "$share/workers/jobs/#");
        await page.WaitForTextAsync(
            Rows + ":nth-child(2) td:nth-child(4)",
            "no local off · retain as published off · retain handling 2 (do not send) · shared group workers · subscription id 7");
        await page.WaitForTextAsync(Rows + ":nth-child(3) td:nth-child(2)", "alerts/#");
        await page.WaitForTextAsync(Rows + ":nth-child(3) td:nth-child(4)", "no local on · retain as published on · retain handling 1 (send if new)");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_retained_count_of_the_overview_is_the_number_the_retained_page_lists()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Broker:SysIntervalSeconds"] = "0.1" });
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("retain"));
        await device.PublishAsync("plant/1/config", "a", MqttQoS.AtLeastOnce, retain: true);
        await device.PublishAsync("plant/2/config", "b", MqttQoS.AtLeastOnce, retain: true);
        await Eventually.HoldsAsync(
            async () => (await dashboard.GetJsonAsync("api/v5/mqtt/retainer/messages?topic=%24SYS/%23")).GetProperty("meta").GetProperty("count").GetInt32() > 0,
            "the broker retains its $SYS topics");
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.WaitForTextAsync("#stat-retained", "2");
        await page.GoToAsync("retained");

        await page.WaitForTextAsync(".pager[data-list='retained'] span", "2 · page 1 of 1");
        await page.WaitForTextAsync("#retained-table tbody tr:nth-child(1) td:nth-child(1)", "plant/1/config");
        await page.WaitForTextAsync("#retained-table tbody tr:nth-child(2) td:nth-child(1)", "plant/2/config");
        Assert.Equal(2, await page.Page.EvaluateExpressionAsync<int>("document.querySelectorAll('#retained-table tbody tr').length"));
        Assert.Equal("2", await page.TextAsync("#stat-retained"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_rate_charts_show_received_and_sent_apart_with_a_time_axis_and_a_msg_per_second_axis()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("rate"));
        await device.SubscribeAsync(topic, MqttQoS.AtMostOnce);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        // A first rate is shown after two samples; messages from then on show up in both series.
        await page.Page.WaitForFunctionAsync("() => /^[0-9.]+$/.test(document.getElementById('stat-rate-in').textContent)");
        for (var i = 0; i < 20; i++)
        {
            await device.PublishAsync(topic, "x", MqttQoS.AtMostOnce);
            await device.ReceivePublishAsync();
        }

        // Each series is its own line in its own chart: a point above zero and a line you can see.
        foreach (var chart in new[] { "#chart-in", "#chart-out" })
        {
            await page.Page.WaitForFunctionAsync(
                """
                chart => {
                  const points = document.querySelector(chart + ' .line').getAttribute('points').trim().split(' ').filter(Boolean);
                  return points.length >= 2 && points.some(p => Number(p.split(',')[1]) < 149);
                }
                """,
                new PuppeteerSharp.WaitForFunctionOptions { Timeout = 15_000 },
                chart);
            var line = await page.Page.EvaluateFunctionAsync<double[]>(
                "chart => { const r = document.querySelector(chart + ' .line').getBoundingClientRect(); return [r.width, r.height]; }", chart);
            Assert.True(line[0] > 0 && line[1] > 0, $"{chart}: the line is drawn ({line[0]} x {line[1]} px)");

            var yLabels = await page.TextsAsync(chart + " .y-labels span");
            Assert.True(yLabels.Length >= 3, $"{chart}: y ticks {string.Join(", ", yLabels)}");
            Assert.Equal("0", yLabels[0]);
            Assert.All(yLabels, label => Assert.Matches(@"^[0-9.,]+[kM]?$", label));
            Assert.Equal("msg/s", await page.TextAsync(chart + " .y-unit"));

            var xLabels = await page.TextsAsync(chart + " .x-labels span");
            Assert.True(xLabels.Length >= 3, $"{chart}: time ticks {string.Join(", ", xLabels)}");
            Assert.All(xLabels, label => Assert.Matches(@"^\d\d:\d\d:\d\d$", label));
        }

        var colours = await page.Page.EvaluateExpressionAsync<string[]>(
            "['#chart-in', '#chart-out'].map(c => getComputedStyle(document.querySelector(c + ' .line')).stroke)");
        Assert.NotEqual(colours[0], colours[1]);
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_publish_form_delivers_a_message_to_a_subscribed_client()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("esp32-led");
        await device.SubscribeAsync("/topic/qos1", MqttQoS.AtLeastOnce);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("publish");

        await page.Page.TypeAsync("#publish-topic", "/topic/qos1");
        await page.Page.TypeAsync("#publish-payload", "public from the dashboard");
        await page.Page.SelectAsync("#publish-qos", "1");
        await page.Page.ClickAsync("#publish-submit");

        var message = await device.ReceivePublishAsync();
        Assert.Equal("/topic/qos1", message.Topic);
        Assert.Equal("public from the dashboard", message.PayloadText());
        Assert.Equal(MqttQoS.AtLeastOnce, message.QoS);
        await page.WaitForTextAsync("#publish-result", "Published to /topic/qos1.");

        // A bad topic is refused with the API's message, next to the form.
        await page.Page.EvaluateFunctionAsync("() => { document.getElementById('publish-topic').value = 'a/#'; }");
        await page.Page.ClickAsync("#publish-submit");
        await page.WaitForTextAsync("#publish-result", "topic 'a/#' has a wildcard (+ or #): publish needs a topic name, not a filter.");
        page.AssertNoScriptErrors();
    }
}
