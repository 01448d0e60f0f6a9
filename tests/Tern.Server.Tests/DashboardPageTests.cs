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

        // The credentials live in sessionStorage: a reload stays logged in.
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
        await page.WaitForTextAsync(Row + " td:nth-child(4)", "MQTT 5.0");
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "120 s");

        await page.Page.ClickAsync(Row + " button.kick");

        await device.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await page.Page.WaitForSelectorAsync(Row, new PuppeteerSharp.WaitForSelectorOptions { Hidden = true });
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_subscriptions_table_shows_a_subscription()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("sensor-hall");
        await device.SubscribeAsync("building/+/temp", MqttQoS.AtLeastOnce);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.GoToAsync("subscriptions");

        await page.WaitForTextAsync("#subscriptions-table tbody tr td:nth-child(1)", "sensor-hall");
        await page.WaitForTextAsync("#subscriptions-table tbody tr td:nth-child(2)", "building/+/temp");
        await page.WaitForTextAsync("#subscriptions-table tbody tr td:nth-child(3)", "1");
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
