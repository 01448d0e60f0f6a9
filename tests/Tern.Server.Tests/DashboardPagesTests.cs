using System.Net;
using System.Text;
using PuppeteerSharp;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The dashboard's pages besides the overview: each with live data from a real broker, and what they change.</summary>
public sealed class DashboardPagesTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task Topics_and_listeners_show_what_the_broker_has()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Listeners:Ws:Enabled"] = "true",
            ["Listeners:Ws:Address"] = "127.0.0.1",
            ["Listeners:Ws:Port"] = "0",
        });
        await using var first = await dashboard.Broker.ConnectAsync(TestIds.Client("topics"));
        await first.SubscribeAsync("farm/+/temperature", MqttQoS.AtLeastOnce);
        await using var second = await dashboard.Broker.ConnectAsync(TestIds.Client("topics"));
        await second.SubscribeAsync("farm/+/temperature", MqttQoS.AtMostOnce);
        await second.SubscribeAsync("farm/barn/door", MqttQoS.AtMostOnce);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.GoToAsync("topics");

        await page.WaitForTextAsync(".pager[data-list='topics'] span", "2 · page 1 of 1");
        await page.WaitForTextAsync("#topics-table tbody tr:nth-child(1) td:nth-child(1)", "farm/+/temperature");
        await page.WaitForTextAsync("#topics-table tbody tr:nth-child(1) td:nth-child(2)", "2");
        await page.WaitForTextAsync("#topics-table tbody tr:nth-child(2) td:nth-child(1)", "farm/barn/door");
        await page.WaitForTextAsync("#topics-table tbody tr:nth-child(2) td:nth-child(2)", "1");

        // The tree counts the subscriptions at or below each level.
        await page.WaitForTextAsync("#topics-tree > li[data-path='farm'] > .tree-count", "3");
        await page.WaitForTextAsync("#topics-tree li[data-path='farm/+'] > .tree-count", "2");
        await page.WaitForTextAsync("#topics-tree li[data-path='farm/+/temperature'] > .tree-count", "2");
        await page.WaitForTextAsync("#topics-tree li[data-path='farm/barn/door'] > .tree-count", "1");

        // A new subscription shows up on the next refresh.
        await first.SubscribeAsync("farm/silo/level", MqttQoS.AtMostOnce);
        await page.WaitForTextAsync(".pager[data-list='topics'] span", "3 · page 1 of 1");
        await page.WaitForTextAsync("#topics-tree > li[data-path='farm'] > .tree-count", "4");

        await page.GoToAsync("listeners");
        var server = dashboard.Broker.Server;
        await page.Page.WaitForSelectorAsync("#listeners-table tbody tr");
        var rows = await page.TextsAsync("#listeners-table tbody tr");
        Assert.Contains(rows, r => r.StartsWith("MQTT over TCP", StringComparison.Ordinal) && r.Contains($"mqtt://127.0.0.1:{dashboard.Broker.Port}", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("MQTT over WebSocket", StringComparison.Ordinal) && r.Contains($"ws://127.0.0.1:{server.WsPort}/mqtt", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("Dashboard and REST API", StringComparison.Ordinal) && r.Contains($"http://127.0.0.1:{server.DashboardPort}", StringComparison.Ordinal));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Clients_search_narrows_the_list_and_the_detail_shows_subscriptions_and_kicks()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var kitchen = await dashboard.Broker.ConnectV5Async("esp32-kitchen", keepAlive: 60);
        await kitchen.SubscribeAsync("home/kitchen/#", MqttQoS.AtLeastOnce);
        await using var garage = await dashboard.Broker.ConnectAsync("esp32-garage");
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("clients");
        await page.WaitForTextAsync(".pager[data-list='clients'] span", "2 · page 1 of 1");

        await page.Page.TypeAsync("#clients-search", "kitch");
        await page.Page.ClickAsync("#clients-filter button[type='submit']");

        await page.WaitForTextAsync(".pager[data-list='clients'] span", "1 · page 1 of 1");
        const string Row = "#clients-table tr[data-client-id='esp32-kitchen']";
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "MQTT 5.0");
        Assert.Null(await page.Page.QuerySelectorAsync("#clients-table tr[data-client-id='esp32-garage']"));

        await page.Page.ClickAsync(Row + " button.details");

        await page.Page.WaitForSelectorAsync("#client-detail", new WaitForSelectorOptions { Visible = true });
        await page.WaitForTextAsync("#detail-client-id", "esp32-kitchen");
        await page.WaitForTextAsync("#detail-state", "connected");
        await page.WaitForTextAsync("#detail-protocol", "MQTT 5.0");
        await page.WaitForTextAsync("#detail-keepalive", "60 s");
        await page.WaitForTextAsync("#detail-inflight", "0");
        await page.WaitForTextAsync("#detail-queued", "0");
        await page.WaitForTextAsync("#detail-subscriptions tbody tr td:nth-child(1)", "home/kitchen/#");
        await page.WaitForTextAsync("#detail-subscriptions tbody tr td:nth-child(2)", "1");

        await page.Page.ClickAsync("#detail-kick");

        await kitchen.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await page.Page.WaitForSelectorAsync("#detail-gone", new WaitForSelectorOptions { Visible = true });
        await page.WaitForTextAsync(".pager[data-list='clients'] span", "0 · page 1 of 1");
        Assert.NotNull(dashboard.Broker.Server.Broker.FindClient("esp32-garage"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_retained_message_shows_as_text_hex_and_json_and_delete_removes_it()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("retained"));
        await device.PublishAsync("plant/7/config", """{"interval":30,"unit":"s"}""", MqttQoS.AtLeastOnce, retain: true);
        await device.PublishAsync("plant/8/config", "keep me", MqttQoS.AtLeastOnce, retain: true);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("retained");
        const string Row = "#retained-table tr[data-topic='plant/7/config']";
        await page.Page.WaitForSelectorAsync(Row);

        await page.Page.ClickAsync(Row + " button.view-payload");

        await page.WaitForTextAsync("#retained-detail-topic", "plant/7/config");
        await page.WaitForTextAsync("#retained-payload", """{"interval":30,"unit":"s"}""");
        await page.Page.SelectAsync("#retained-format", "json");
        var json = await page.Page.EvaluateExpressionAsync<string>("document.getElementById('retained-payload').textContent");
        Assert.Equal("{\n  \"interval\": 30,\n  \"unit\": \"s\"\n}", json);
        await page.Page.SelectAsync("#retained-format", "hex");
        var hex = await page.TextAsync("#retained-payload");
        Assert.StartsWith("00000000  7b 22 69 6e 74 65 72 76 61 6c 22 3a 33 30 2c 22", hex, StringComparison.Ordinal);

        await page.Page.ClickAsync(Row + " button.delete");

        await page.Page.WaitForSelectorAsync(Row, new WaitForSelectorOptions { Hidden = true });
        Assert.False(await page.IsVisibleAsync("#retained-detail"));
        await page.WaitForTextAsync(".pager[data-list='retained'] span", "1 · page 1 of 1");

        // A new subscriber gets the other message only.
        await using var subscriber = await dashboard.Broker.ConnectAsync(TestIds.Client("retained"));
        await subscriber.SubscribeAsync("plant/+/config", MqttQoS.AtLeastOnce);
        var kept = await subscriber.ReceivePublishAsync();
        Assert.Equal("plant/8/config", kept.Topic);
        await subscriber.ExpectNoPacketAsync();
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_ban_added_on_the_page_refuses_a_real_client_until_it_is_deleted()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("banned");
        await page.WaitForTextAsync(".pager[data-list='banned'] span", "0 · page 1 of 1");

        await page.Page.SelectAsync("#ban-as", "clientid");
        await page.Page.TypeAsync("#ban-who", "rogue-7");
        await page.Page.TypeAsync("#ban-reason", "floods the broker");
        await page.Page.ClickAsync("#ban-submit");

        const string Row = "#banned-table tr[data-who='rogue-7']";
        await page.WaitForTextAsync(Row + " td:nth-child(1)", "client ID");
        await page.WaitForTextAsync(Row + " td:nth-child(3)", "floods the broker");
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "no end");
        await using (var refused = await dashboard.Broker.OpenRawAsync())
        {
            var connAck = await refused.ConnectAsync("rogue-7", version: MqttProtocolVersion.V500);
            Assert.Equal((byte)ReasonCode.Banned, connAck.ReasonCode);
        }

        await page.Page.ClickAsync(Row + " button.unban");

        await page.Page.WaitForSelectorAsync(Row, new WaitForSelectorOptions { Hidden = true });
        await using var allowed = await dashboard.Broker.OpenRawAsync();
        Assert.Equal(0, (await allowed.ConnectAsync("rogue-7", version: MqttProtocolVersion.V500)).ReasonCode);
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_bad_ban_shows_the_reason_from_the_api()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("banned");

        await page.Page.SelectAsync("#ban-as", "peerhost");
        await page.Page.TypeAsync("#ban-who", "not-an-address");
        await page.Page.ClickAsync("#ban-submit");

        await page.Page.WaitForFunctionAsync("() => document.getElementById('ban-result').className === 'form-error'");
        Assert.Contains("who", await page.TextAsync("#ban-result"), StringComparison.Ordinal);
        using var list = await dashboard.Http.GetAsync("api/v5/banned");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Contains("\"count\":0", Encoding.UTF8.GetString(await list.Content.ReadAsByteArrayAsync()), StringComparison.Ordinal);
        page.AssertNoScriptErrors();
    }
}
