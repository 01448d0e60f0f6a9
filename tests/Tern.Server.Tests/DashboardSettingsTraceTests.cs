using System.Net;
using PuppeteerSharp;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>The Settings page (dashboard password, API keys) and the Trace page, driven in Chromium against a real broker.</summary>
public sealed class DashboardSettingsTraceTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const string NewPassword = "lighthouse-7-keeper";

    [Fact]
    public async Task A_password_changed_in_the_page_is_the_only_one_that_logs_in_even_after_a_restart()
    {
        using var files = new V5ManagementBroker();
        await using (var dashboard = await files.StartAsync())
        {
            await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
            await page.LogInAndWaitAsync();
            Assert.True(await page.IsVisibleAsync("#default-password-banner"));
            await page.GoToAsync("settings");
            await page.WaitForTextAsync("#password-user", "admin");

            // A wrong current password is refused and changes nothing.
            await page.Page.TypeAsync("#password-old", "not-it");
            await page.Page.TypeAsync("#password-new", NewPassword);
            await page.Page.TypeAsync("#password-confirm", NewPassword);
            await page.Page.ClickAsync("#password-submit");
            await page.WaitForTextAsync("#password-result", "old_pwd: this is not the current password.");

            await page.Page.EvaluateFunctionAsync("() => { document.getElementById('password-old').value = ''; }");
            await page.Page.TypeAsync("#password-old", "public");
            await page.Page.ClickAsync("#password-submit");

            await page.WaitForTextAsync("#password-result", "Password changed. Other dashboard sessions and API tokens were logged out.");
            Assert.False(await page.IsVisibleAsync("#default-password-banner"));
            using (var old = dashboard.CreateClient("admin", "public"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(old, "api/v5/nodes")).Status);
            }

            using (var changed = dashboard.CreateClient("admin", NewPassword))
            {
                await GetOkAsync(changed, "api/v5/nodes");
            }

            // The page that made the change stays logged in; a new login needs the new password.
            await page.GoToAsync("overview");
            await page.Page.ClickAsync("#logout");
            await page.LogInAsync("admin", "public");
            await page.WaitForTextAsync("#login-error", "Wrong user name or password.");
            await page.LogInAndWaitAsync("admin", NewPassword);
            Assert.False(await page.IsVisibleAsync("#default-password-banner"));
            page.AssertNoScriptErrors();
        }

        // The same directory after a restart: the stored hash wins over Dashboard:Password.
        await using var restarted = await files.StartAsync();
        await using var again = await DashboardPage.OpenAsync(chromium.Browser, restarted);
        await again.LogInAsync("admin", "public");
        await again.WaitForTextAsync("#login-error", "Wrong user name or password.");
        await again.LogInAndWaitAsync("admin", NewPassword);
        Assert.False(await again.IsVisibleAsync("#default-password-banner"));
        again.AssertNoScriptErrors();
    }

    [Fact]
    public async Task An_api_key_created_in_the_page_opens_the_api_until_disabled_or_deleted()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("settings");

        await page.Page.TypeAsync("#apikey-name", "grafana");
        await page.Page.TypeAsync("#apikey-desc", "reads metrics");
        await page.Page.ClickAsync("#apikey-submit");

        await page.Page.WaitForSelectorAsync("#apikey-created", new WaitForSelectorOptions { Visible = true });
        var key = await page.TextAsync("#apikey-created-key");
        var secret = await page.TextAsync("#apikey-created-secret");
        Assert.False(string.IsNullOrEmpty(key));
        Assert.False(string.IsNullOrEmpty(secret));
        using var script = dashboard.CreateClient(key, secret);
        await GetOkAsync(script, "api/v5/nodes");

        const string Row = "#apikeys-table tr[data-name='grafana']";
        await page.WaitForTextAsync(Row + " td:nth-child(2)", key!);
        await page.WaitForTextAsync(Row + " td:nth-child(3)", "reads metrics");
        await page.WaitForTextAsync(Row + " td:nth-child(5)", "never");
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "enabled");

        // The secret is shown once: gone when dismissed, and never in the list.
        await page.Page.ClickAsync("#apikey-created-close");
        Assert.False(await page.IsVisibleAsync("#apikey-created"));
        Assert.DoesNotContain(secret!, await page.Page.EvaluateExpressionAsync<string>("document.body.textContent"), StringComparison.Ordinal);

        await page.Page.ClickAsync(Row + " button.toggle");
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "disabled");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(script, "api/v5/nodes")).Status);

        await page.Page.ClickAsync(Row + " button.toggle");
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "enabled");
        await GetOkAsync(script, "api/v5/nodes");

        // An expiry date: the key ends at the end of that day, in the browser's time zone.
        await page.Page.TypeAsync("#apikey-name", "nightly");
        await page.Page.EvaluateFunctionAsync("() => { document.getElementById('apikey-expiry').value = '2099-12-31'; }");
        await page.Page.ClickAsync("#apikey-submit");
        const string Nightly = "#apikeys-table tr[data-name='nightly']";
        await page.WaitForTextAsync(Nightly + " td:nth-child(5)", "2099-12-31 23:59:59");
        var expiry = (await GetOkAsync(dashboard.Http, "api/v5/api_key/nightly")).GetProperty("expired_at").GetString()!;
        Assert.Equal(new DateTime(2099, 12, 31, 23, 59, 59), DateTimeOffset.Parse(expiry, System.Globalization.CultureInfo.InvariantCulture).ToLocalTime().DateTime);
        await page.Page.ClickAsync(Nightly + " button.delete");
        await page.Page.WaitForSelectorAsync(Nightly, new WaitForSelectorOptions { Hidden = true });

        await page.Page.ClickAsync(Row + " button.delete");
        await page.Page.WaitForSelectorAsync(Row, new WaitForSelectorOptions { Hidden = true });
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(script, "api/v5/nodes")).Status);
        Assert.True(await page.IsVisibleAsync("#view-settings .table-card .empty"));
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_trace_started_in_the_page_shows_the_packets_of_a_real_client_live_and_stops_when_deleted()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("trace");

        await page.Page.TypeAsync("#trace-name", "dev1-debug");
        await page.Page.TypeAsync("#trace-value", "dev1");
        await page.Page.ClickAsync("#trace-submit");

        await page.WaitForTextAsync("#trace-result", "Tracing client dev1.");
        await page.Page.WaitForSelectorAsync("#trace-log-card", new WaitForSelectorOptions { Visible = true });
        await page.WaitForTextAsync("#trace-log-name", "dev1-debug");
        const string Row = "#traces-table tr[data-name='dev1-debug']";
        await page.WaitForTextAsync(Row + " td:nth-child(3)", "dev1");
        await page.WaitForTextAsync(Row + " td:nth-child(6)", "running");

        // mosquitto_pub as the device, and another client the trace must leave out.
        var (exit, output) = await V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, "-i", "other-device", "-t", "other/state", "-m", "ignored");
        Assert.True(exit == 0, output);
        (exit, output) = await V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, "-i", "dev1", "-q", "1", "-t", "dev1/state", "-m", "online");
        Assert.True(exit == 0, output);

        await WaitForLogAsync(page, "PUBACK");
        var log = await page.TextsAsync("#trace-log .trace-line");
        Assert.Contains(log, l => l.Contains(" in   dev1@", StringComparison.Ordinal) && l.Contains(" CONNECT protocol=", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains(" PUBLISH topic=dev1/state qos=1", StringComparison.Ordinal) && l.Contains("\"online\"", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains(" out  dev1@", StringComparison.Ordinal) && l.Contains(" CONNACK ", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains("other-device", StringComparison.Ordinal));
        Assert.True(await page.Page.EvaluateExpressionAsync<bool>("document.querySelector('#trace-log .trace-line.in') !== null"));

        // Followed live: a later packet appears without a click, and what was shown is not repeated.
        (exit, output) = await V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, "-i", "dev1", "-t", "dev1/state", "-m", "second");
        Assert.True(exit == 0, output);
        await WaitForLogAsync(page, "\"second\"");
        var lines = await page.TextsAsync("#trace-log .trace-line");
        Assert.Single(lines, l => l.Contains("\"online\"", StringComparison.Ordinal));

        // A drop, shown as one: dev1 keeps a session and goes away, then a QoS 0 message for it is dropped (qos0_offline).
        await using (var device = await dashboard.Broker.ConnectAsync("dev1", cleanSession: false))
        {
            await device.SubscribeGrantedAsync("dev1/cmd", MqttQoS.AtMostOnce);
            await device.DisconnectAsync();
        }

        await Eventually.HoldsAsync(
            async () => !(await GetOkAsync(dashboard.Http, "api/v5/clients/dev1")).GetProperty("connected").GetBoolean(),
            "dev1 is disconnected with its session kept");
        await using var controller = await dashboard.Broker.ConnectAsync("dev1-controller");
        await controller.PublishAsync("dev1/cmd", "reboot");
        await WaitForLogAsync(page, "qos0_offline");
        Assert.Contains(await page.TextsAsync("#trace-log .trace-line.drop"), l => l.Contains(" drop dev1 1 message(s) dropped: qos0_offline", StringComparison.Ordinal));

        await page.Page.ClickAsync(Row + " button.delete");
        await page.Page.WaitForSelectorAsync(Row, new WaitForSelectorOptions { Hidden = true });
        Assert.False(await page.IsVisibleAsync("#trace-log-card"));
        Assert.Empty((await GetOkAsync(dashboard.Http, "api/v5/trace")).EnumerateArray());
        page.AssertNoScriptErrors();
    }

    private static async Task WaitForLogAsync(DashboardPage page, string text)
    {
        try
        {
            await page.Page.WaitForFunctionAsync("t => document.getElementById('trace-log').textContent.includes(t)", new WaitForFunctionOptions { Timeout = 15_000 }, text);
        }
        catch (WaitTaskTimeoutException)
        {
            Assert.Fail($"The trace log never showed '{text}'; it shows: {await page.TextAsync("#trace-log")}");
        }
    }
}
