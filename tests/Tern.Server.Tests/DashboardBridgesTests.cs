using Tern.Protocol;
using Tern.Server.Tests.Bridges;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The dashboard's Bridges page over a real bridge to a Mosquitto started by the test, and with none configured.</summary>
public sealed class DashboardBridgesTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const string Row = "#bridges-table tr[data-key='cloud']";

    [Fact]
    public async Task The_page_follows_a_bridge_as_it_forwards_loses_its_remote_and_queues()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "sensors/#");
        var settings = BridgeSettings.For(0, "cloud", mosquitto.Port, ("sensors/#", "out", 1));
        settings["Persistence:Mode"] = "memory";
        await using var dashboard = await DashboardBroker.StartAsync(settings);
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("bridges");

        await page.WaitForTextAsync(Row + " td:nth-child(2)", "connected");
        Assert.Equal("badge up", await page.Page.EvaluateFunctionAsync<string>("s => document.querySelector(s).className", Row + " td:nth-child(2)"));
        Assert.Equal($"127.0.0.1:{mosquitto.Port}", await page.TextAsync(Row + " td:nth-child(3)"));
        Assert.Equal("3.1.1", await page.TextAsync(Row + " td:nth-child(4)"));
        Assert.StartsWith("tern-bridge-cloud-", await page.TextAsync(Row + " td:nth-child(5)"), StringComparison.Ordinal);
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", await page.TextAsync(Row + " td:nth-child(6)"));
        await page.WaitForTextAsync(Row + " td:nth-child(8)", "0");

        // A publish on this broker crosses to the remote, and the page's sent count follows on a refresh.
        await using var publisher = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync("sensors/t1", "21.5", MqttQoS.AtLeastOnce);
        await remoteWatch.WaitForAsync("sensors/t1", "21.5");
        await page.WaitForTextAsync(Row + " td:nth-child(8)", "1");
        await page.WaitForTextAsync(Row + " td:nth-child(7)", "0 / 1,000");

        // With the remote gone the badge turns, and what is published meanwhile is queued for it.
        await mosquitto.StopAsync();
        await page.WaitForTextAsync(Row + " td:nth-child(2)", "disconnected");
        Assert.Equal("badge down", await page.Page.EvaluateFunctionAsync<string>("s => document.querySelector(s).className", Row + " td:nth-child(2)"));
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "–");
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAsync($"sensors/t{i}", "22.0", MqttQoS.AtLeastOnce);
        }

        await page.WaitForTextAsync(Row + " td:nth-child(7)", "3 / 1,000");
        Assert.Equal("1", await page.TextAsync(Row + " td:nth-child(8)"));
        Assert.Equal("disconnected", await page.Page.EvaluateFunctionAsync<string>("s => document.querySelector(s).dataset.state", Row));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Without_bridges_the_page_says_how_to_configure_one()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("bridges");

        await page.Page.WaitForSelectorAsync("#view-bridges .empty", new PuppeteerSharp.WaitForSelectorOptions { Visible = true });
        var text = await page.TextAsync("#view-bridges .empty");
        Assert.Contains("No bridges are configured", text, StringComparison.Ordinal);
        Assert.Contains("docs/bridges.md", text, StringComparison.Ordinal);
        Assert.Contains("\"Bridges\": [", text, StringComparison.Ordinal);
        Assert.Empty(await page.TextsAsync("#bridges-table tbody tr"));
        page.AssertNoScriptErrors();
    }
}
