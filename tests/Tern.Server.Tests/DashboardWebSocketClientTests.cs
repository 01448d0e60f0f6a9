using System.Globalization;
using PuppeteerSharp;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// The WebSocket client page: the browser itself speaks MQTT over the broker's WebSocket listener
/// (wwwroot/mqtt.js) and exchanges messages with mosquitto_pub and mosquitto_sub over TCP.
/// </summary>
public sealed class DashboardWebSocketClientTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private static readonly Dictionary<string, string?> WithWebSocket = new()
    {
        ["Listeners:Ws:Enabled"] = "true",
        ["Listeners:Ws:Address"] = "127.0.0.1",
        ["Listeners:Ws:Port"] = "0",
    };

    [Fact]
    public async Task The_browser_connects_over_websocket_and_exchanges_messages_with_mosquitto_clients()
    {
        await using var dashboard = await DashboardBroker.StartAsync(WithWebSocket);
        var port = dashboard.Broker.Port.ToString(CultureInfo.InvariantCulture);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("websocket");

        // The page found the listener through the API.
        Assert.Equal($"ws://127.0.0.1:{dashboard.Broker.Server.WsPort}/mqtt", await page.Page.EvaluateExpressionAsync<string>("document.getElementById('ws-url').value"));
        await page.Page.EvaluateExpressionAsync("document.getElementById('ws-client-id').value = ''");
        await page.Page.TypeAsync("#ws-client-id", "browser-lab");
        await page.Page.EvaluateExpressionAsync("document.getElementById('ws-keepalive').value = '30'");
        await page.Page.ClickAsync("#ws-connect");
        await page.WaitForTextAsync("#ws-status", "connected");

        var client = dashboard.Broker.Server.Broker.FindClient("browser-lab");
        Assert.NotNull(client);
        Assert.Equal(MqttProtocolVersion.V311, client.ProtocolVersion);
        Assert.Equal(30, client.KeepAlive);

        // mosquitto_pub -> browser, at QoS 1.
        await page.Page.TypeAsync("#ws-sub-topic", "lab/+/reading");
        await page.Page.SelectAsync("#ws-sub-qos", "1");
        await page.Page.ClickAsync("#ws-subscribe");
        await page.WaitForTextAsync("#ws-subscriptions li", "lab/+/reading (QoS 1)");
        await RunAsync(ExternalTools.MosquittoPub, ["-h", "127.0.0.1", "-p", port, "-t", "lab/7/reading", "-m", "21.5 °C", "-q", "1"]);
        await page.WaitForTextAsync("#ws-messages tbody tr td:nth-child(2)", "lab/7/reading");
        Assert.Equal("1", await page.TextAsync("#ws-messages tbody tr td:nth-child(3)"));
        Assert.Equal("21.5 °C", await page.TextAsync("#ws-messages tbody tr td:nth-child(5)"));

        // Browser -> mosquitto_sub, at QoS 1 (the page shows the broker's PUBACK).
        await using var sub = ProcessRunner.Start(
            ExternalTools.MosquittoSub,
            ["-h", "127.0.0.1", "-p", port, "-d", "-t", "lab/commands", "-q", "1", "-C", "1", "-v"],
            ExternalTools.MosquittoClientsPackage,
            lineBuffered: true);
        await sub.WaitForLineAsync(line => line.Contains("received SUBACK", StringComparison.Ordinal));
        await page.Page.TypeAsync("#ws-pub-topic", "lab/commands");
        await page.Page.TypeAsync("#ws-pub-payload", "calibrate");
        await page.Page.SelectAsync("#ws-pub-qos", "1");
        await page.Page.ClickAsync("#ws-publish");
        await page.WaitForTextAsync("#ws-pub-result", "Published to lab/commands; the broker acknowledged it.");
        await sub.WaitForLineAsync("lab/commands calibrate");
        Assert.Equal(0, await sub.WaitForExitAsync());

        await page.Page.ClickAsync("#ws-disconnect");
        await page.WaitForTextAsync("#ws-status", "disconnected");
        await Eventually.HoldsAsync(() => Task.FromResult(dashboard.Broker.Server.Broker.FindClient("browser-lab") is null), "the browser's client leaves the broker");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_banned_client_id_is_refused_and_the_page_says_why()
    {
        await using var dashboard = await DashboardBroker.StartAsync(WithWebSocket);
        using (var ban = await dashboard.Http.PostAsync("api/v5/banned", new StringContent("""{"as": "clientid", "who": "browser-banned"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.True(ban.IsSuccessStatusCode, $"POST /api/v5/banned answered {(int)ban.StatusCode}");
        }

        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("websocket");
        await page.Page.EvaluateExpressionAsync("document.getElementById('ws-client-id').value = ''");
        await page.Page.TypeAsync("#ws-client-id", "browser-banned");

        await page.Page.ClickAsync("#ws-connect");

        await page.Page.WaitForFunctionAsync("() => document.getElementById('ws-status').textContent.startsWith('disconnected: the broker refused')");
        Assert.True(await page.Page.EvaluateExpressionAsync<bool>("!document.getElementById('ws-connect').disabled"), "Connect can be pressed again");
        Assert.Null(dashboard.Broker.Server.Broker.FindClient("browser-banned"));
        page.AssertNoScriptErrors();
    }

    private static async Task RunAsync(string tool, string[] args)
    {
        await using var process = ProcessRunner.Start(tool, args, ExternalTools.MosquittoClientsPackage);
        var exit = await process.WaitForExitAsync();
        Assert.True(exit == 0, $"`{process.CommandLine}` exited with {exit}:{Environment.NewLine}{process.Output}");
    }
}
