using System.Text.RegularExpressions;
using PuppeteerSharp;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The overview's Store card in a real headless Chromium, against a real broker and its store.</summary>
public sealed partial class DashboardStoreCardTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-page-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task In_memory_mode_the_store_card_says_nothing_is_kept()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.WaitForTextAsync("#store-mode", "memory (nothing is kept across restarts)");
        Assert.False(await page.IsVisibleAsync("#store-size"), "no size, rate or file without a store");
        Assert.False(await page.IsVisibleAsync("#store-rate"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task The_store_card_shows_the_mode_file_size_and_commits_per_second()
    {
        await using var dashboard = await StartAsync();
        var topic = TestIds.Topic();
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("store"));
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();

        await page.WaitForTextAsync("#store-mode", "durable (survives the broker being killed)");
        await page.WaitForTextAsync("#store-status", "ok");
        await page.WaitForTextAsync("#store-path", _directory);
        Assert.Matches(HumanSize(), await page.TextAsync("#store-size"));

        // A rate needs two samples; writes from then on show up in a later one.
        await page.Page.WaitForFunctionAsync("() => /^[0-9.,]+$/.test(document.getElementById('store-rate').textContent)");
        var rateAboveZero = page.Page.WaitForFunctionAsync(
            "() => Number(document.getElementById('store-rate').textContent.replaceAll(',', '')) > 0",
            new WaitForFunctionOptions { Timeout = 15_000 });
        for (var i = 0; i < 500 && !rateAboveZero.IsCompleted; i++)
        {
            await device.PublishAsync($"{topic}/{i % 10}", $"reading {i}", MqttQoS.AtLeastOnce, retain: true);
        }

        await rateAboveZero;
        Assert.Matches(@"^[0-9,]+ / [0-9,]+$", await page.TextAsync("#store-commits"));
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", await page.TextAsync("#store-last"));
        Assert.Matches(HumanSize(), await page.TextAsync("#store-size"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_store_that_cannot_write_shows_its_failure_in_red()
    {
        await using var dashboard = await StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("store"));
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.WaitForTextAsync("#store-status", "ok");
        var normal = await ColourAsync(page, "#store-status");

        StoreFault.FillDisk(dashboard.Broker.Server.StorePath!);
        await device.PublishAsync(TestIds.Topic(), "cannot be kept", MqttQoS.AtMostOnce, retain: true);

        await page.Page.WaitForFunctionAsync("() => document.getElementById('store-status').textContent !== 'ok'");
        var text = await page.TextAsync("#store-status");
        Assert.Contains("No space left on device", text, StringComparison.Ordinal);
        Assert.Contains("Nothing more is stored until Tern restarts", text, StringComparison.Ordinal);
        var colour = await ColourAsync(page, "#store-status");
        Assert.NotEqual(normal, colour);
        Assert.True(colour[0] > 150 && colour[1] < 110 && colour[2] < 110, $"the failure is red, not rgb({string.Join(", ", colour)})");
        page.AssertNoScriptErrors();
    }

    private Task<DashboardBroker> StartAsync() => DashboardBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Persistence:Mode"] = "durable",
        ["Persistence:Directory"] = _directory,
    });

    /// <summary>The element's text colour as red, green, blue.</summary>
    private static async Task<int[]> ColourAsync(DashboardPage page, string selector)
    {
        var css = await page.Page.EvaluateFunctionAsync<string>("s => getComputedStyle(document.querySelector(s)).color", selector);
        return [.. Regex.Matches(css, @"\d+").Take(3).Select(m => int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture))];
    }

    [GeneratedRegex(@"^\d+(\.\d)? (B|KiB|MiB|GiB)$")]
    private static partial Regex HumanSize();
}
