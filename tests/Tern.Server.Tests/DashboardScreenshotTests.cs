using PuppeteerSharp;
using Tern.Protocol;
using Tern.Server.Tests.Bridges;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// Every page of the dashboard over a broker with devices, traffic, retained messages, a ban, users, ACL rules
/// and two bridges (one to a Mosquitto started by the test, one to a remote that is down), each captured as a PNG. <c>TERN_DASHBOARD_IMAGES=docs/images</c> writes them where the README
/// shows them; otherwise they go to a temporary directory.
/// </summary>
public sealed class DashboardScreenshotTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task Every_page_renders_live_data_and_is_captured()
    {
        var configured = Environment.GetEnvironmentVariable("TERN_DASHBOARD_IMAGES");
        var directory = configured is { Length: > 0 } ? configured : Directory.CreateTempSubdirectory("tern-dashboard-").FullName;
        Directory.CreateDirectory(directory);
        try
        {
            await CaptureEveryPageAsync(directory);
            foreach (var name in new[] { "login", "overview", "clients", "subscriptions", "topics", "retained", "banned", "users", "acl", "listeners", "bridges", "publish", "websocket", "trace", "settings" })
            {
                var file = new FileInfo(Path.Combine(directory, $"dashboard-{name}.png"));
                Assert.True(file.Exists && file.Length > 10_000, $"{file.FullName} holds a screenshot");
            }
        }
        finally
        {
            if (configured is not { Length: > 0 })
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private async Task CaptureEveryPageAsync(string directory)
    {
        // A users file of its own, so that the Users and ACL rules pages have something to manage.
        using var files = new V5ManagementBroker();
        files.Settings["Listeners:Ws:Enabled"] = "true";
        files.Settings["Listeners:Ws:Address"] = "127.0.0.1";
        files.Settings["Listeners:Ws:Port"] = "0";

        // Readings go up to the cloud and commands come down from it; the backup site, down, queues the devices' configurations.
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var cloud = await WatchClient.StartAsync(mosquitto.Port, "site-17/#");
        files.Settings.With(BridgeSettings.For(0, "cloud", mosquitto.Port, ("home/+/temperature", "out", 1), ("home/+/set", "in", 1)))
            .With(BridgeSettings.For(1, "backup-site", MosquittoRemote.FreePort(), ("home/+/config", "out", 1)));
        files.Settings["Bridges:0:ClientId"] = "edge-17";
        files.Settings["Bridges:0:Topics:0:RemotePrefix"] = "site-17/";
        files.Settings["Bridges:0:Topics:1:RemotePrefix"] = "site-17/";
        files.Settings["Bridges:1:ClientId"] = "edge-17-backup";
        files.Settings["Bridges:1:ProtocolVersion"] = "5";
        await using var dashboard = await files.StartAsync();
        var devices = new List<RawMqttClient>();
        try
        {
            foreach (var room in new[] { "kitchen", "garage", "attic", "cellar" })
            {
                var device = await dashboard.Broker.ConnectV5Async($"esp32-{room}", keepAlive: 60);
                await device.SubscribeAsync($"home/{room}/set", MqttQoS.AtLeastOnce);
                await device.PublishAsync($"home/{room}/config", $$"""{"room":"{{room}}","interval":30}""", MqttQoS.AtLeastOnce, retain: true);
                devices.Add(device);
            }

            var monitor = await dashboard.Broker.ConnectAsync("grafana-bridge");
            await monitor.SubscribeAsync("home/+/temperature", MqttQoS.AtMostOnce);
            devices.Add(monitor);
            using (var ban = await dashboard.Http.PostAsync("api/v5/banned", new StringContent("""{"as": "clientid", "who": "rogue-7", "reason": "floods the broker"}""", System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.True(ban.IsSuccessStatusCode);
            }

            await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
            // The form shows once the page has asked for a session and been refused.
            await page.Page.WaitForSelectorAsync("#login-form", new WaitForSelectorOptions { Visible = true });
            await Capture(page, directory, "login");
            await page.LogInAndWaitAsync();
            await page.WaitForTextAsync("#stat-connections", "5");

            // Some traffic, so that the charts have a line: a reading a room every 200 ms for 12 s.
            for (var i = 0; i < 60; i++)
            {
                await devices[i % 4].PublishAsync($"home/{new[] { "kitchen", "garage", "attic", "cellar" }[i % 4]}/temperature", "21." + i % 10);
                await Task.Delay(200);
            }

            await page.Page.WaitForFunctionAsync("() => document.querySelector('#chart-in .line').getAttribute('points').split(' ').length >= 4");

            // The connections chart is at 5 (its top tick is 6, so the line is at 5/6 of the height).
            var connections = await page.Page.EvaluateExpressionAsync<string>("document.querySelector('#chart-conn .line').getAttribute('points')");
            Assert.All(connections.Split(' '), point => Assert.Equal(25.0, double.Parse(point.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture), 1));
            await Capture(page, directory, "overview");

            await page.GoToAsync("clients");
            await page.Page.WaitForSelectorAsync("#clients-table tr[data-client-id='esp32-kitchen']");
            await page.Page.ClickAsync("#clients-table tr[data-client-id='esp32-kitchen'] button.details");
            await page.WaitForTextAsync("#detail-subscriptions tbody tr td:nth-child(1)", "home/kitchen/set");
            await Capture(page, directory, "clients");

            await page.GoToAsync("subscriptions");
            // The five clients' and the two bridges' (each bridge's $bridge/<Name> session holds its out filter).
            await page.WaitForTextAsync(".pager[data-list='subscriptions'] span", "7 · page 1 of 1");
            await Capture(page, directory, "subscriptions");

            await page.GoToAsync("topics");
            // home/+/config is the backup bridge's; home/+/temperature is shared by the monitor and the cloud bridge.
            await page.WaitForTextAsync(".pager[data-list='topics'] span", "6 · page 1 of 1");
            await Capture(page, directory, "topics");

            await page.GoToAsync("retained");
            await page.Page.WaitForSelectorAsync("#retained-table tr[data-topic='home/attic/config']");
            await page.Page.ClickAsync("#retained-table tr[data-topic='home/attic/config'] button.view-payload");
            await page.Page.SelectAsync("#retained-format", "json");
            await page.WaitForTextAsync("#retained-detail-topic", "home/attic/config");
            await Capture(page, directory, "retained");

            await page.GoToAsync("banned");
            await page.Page.WaitForSelectorAsync("#banned-table tr[data-who='rogue-7']");
            await Capture(page, directory, "banned");

            foreach (var user in new[] { "alice", "sensor-17", "grafana" })
            {
                await PostAsync(dashboard, "api/v5/authentication/password_based:built_in_database/users", $$"""{"user_id": "{{user}}", "password": "s3cret-{{user}}"}""");
            }

            await page.GoToAsync("users");
            await page.WaitForTextAsync(".pager[data-list='users'] span", "3 · page 1 of 1");
            await Capture(page, directory, "users");

            const string Rules = "api/v5/authorization/sources/built_in_database/rules";
            await PostAsync(dashboard, Rules + "/users", """[{"username": "sensor-17", "rules": [{"topic": "sensors/${username}/#", "permission": "allow", "action": "publish"}, {"topic": "sensors/#", "permission": "deny", "action": "publish"}]}]""");
            await PostAsync(dashboard, Rules + "/clients", """[{"clientid": "esp32-kitchen", "rules": [{"topic": "home/kitchen/#", "permission": "allow", "action": "all"}, {"topic": "home/#", "permission": "deny", "action": "publish"}]}]""");
            await PostAsync(dashboard, Rules + "/all", """{"rules": [{"topic": "secret/#", "permission": "deny", "action": "all"}]}""");
            await page.GoToAsync("acl");
            await page.Page.WaitForSelectorAsync("#acl-table tr[data-kind='all'][data-index='0']");
            await page.Page.TypeAsync("#acl-check-clientid", "esp32-kitchen");
            await page.Page.TypeAsync("#acl-check-topic", "home/garage/set");
            await page.Page.ClickAsync("#acl-check-submit");
            await page.WaitForTextAsync("#acl-check-verdict", "deny");
            await page.Page.WaitForSelectorAsync("#acl-table tr.decided[data-who='esp32-kitchen'][data-index='1']");
            await Capture(page, directory, "acl");

            await page.GoToAsync("listeners");
            await page.Page.WaitForSelectorAsync("#listeners-table tbody tr:nth-child(3)");
            await Capture(page, directory, "listeners");

            await cloud.WaitForAsync(r => r.Count >= 60, "the readings on the cloud broker");
            await cloud.PublishAsync("site-17/home/attic/set", "{\"fan\":\"on\"}");
            await page.GoToAsync("bridges");
            await page.WaitForTextAsync("#bridges-table tr[data-key='cloud'] td:nth-child(9)", "1");
            await page.WaitForTextAsync("#bridges-table tr[data-key='backup-site'] td:nth-child(2)", "disconnected");
            await Capture(page, directory, "bridges");

            await page.GoToAsync("publish");
            await page.Page.TypeAsync("#publish-topic", "home/garage/set");
            await page.Page.TypeAsync("#publish-payload", """{"door":"close"}""");
            await page.Page.SelectAsync("#publish-qos", "1");
            await page.Page.ClickAsync("#publish-submit");
            await page.WaitForTextAsync("#publish-result", "Published to home/garage/set.");
            Assert.Equal("home/garage/set", (await devices[1].ReceivePublishAsync()).Topic);
            await Capture(page, directory, "publish");

            await page.GoToAsync("websocket");
            await page.Page.ClickAsync("#ws-connect");
            await page.WaitForTextAsync("#ws-status", "connected");
            await page.Page.TypeAsync("#ws-sub-topic", "home/#");
            await page.Page.ClickAsync("#ws-subscribe");
            await page.Page.WaitForSelectorAsync("#ws-subscriptions li");
            await devices[0].PublishAsync("home/kitchen/temperature", "21.5");
            await page.Page.WaitForFunctionAsync("() => document.querySelectorAll('#ws-messages tbody tr').length >= 5");
            await Capture(page, directory, "websocket");

            // A trace of the kitchen device started in the page, one of a topic through the API, and traffic for both.
            using (var topicTrace = await dashboard.Http.PostAsync("api/v5/trace", new StringContent("""{"name": "temperatures", "type": "topic", "topic": "home/+/temperature"}""", System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.True(topicTrace.IsSuccessStatusCode);
            }

            await page.GoToAsync("trace");
            await page.Page.TypeAsync("#trace-name", "kitchen-debug");
            await page.Page.TypeAsync("#trace-value", "esp32-kitchen");
            await page.Page.TypeAsync("#trace-minutes", "60");
            await page.Page.ClickAsync("#trace-submit");
            await page.Page.WaitForSelectorAsync("#traces-table tr[data-name='kitchen-debug']");
            await devices[0].PublishAsync("home/kitchen/temperature", "21.8", MqttQoS.AtLeastOnce);
            await devices[1].PublishAsync("home/kitchen/set", """{"heating":"on"}""", MqttQoS.AtLeastOnce);
            Assert.Equal("home/kitchen/set", (await devices[0].ReceivePublishAsync()).Topic);
            await devices[0].PublishAsync("home/kitchen/state", """{"heating":"on","target":22}""", MqttQoS.AtLeastOnce);
            await page.Page.WaitForFunctionAsync("() => document.getElementById('trace-log').textContent.includes('home/kitchen/state')");
            await page.Page.WaitForFunctionAsync("() => document.querySelector(\"#traces-table tr[data-name='kitchen-debug'] td:nth-child(7)\").textContent !== '0 B'");
            await Capture(page, directory, "trace");

            // Two keys made through the API, one of them disabled, and one made in the page with its secret on show.
            foreach (var body in new[]
            {
                """{"name": "grafana", "desc": "reads metrics for the wall display", "expired_at": "2027-06-30T23:59:59Z"}""",
                """{"name": "deploy-script", "desc": "CI: pushes ACL rules", "enable": false}""",
            })
            {
                using var created = await dashboard.Http.PostAsync("api/v5/api_key", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
                Assert.True(created.IsSuccessStatusCode);
            }

            await page.GoToAsync("settings");
            await page.Page.TypeAsync("#apikey-name", "home-assistant");
            await page.Page.TypeAsync("#apikey-desc", "automations");
            await page.Page.ClickAsync("#apikey-submit");
            await page.Page.WaitForSelectorAsync("#apikey-created", new WaitForSelectorOptions { Visible = true });
            await page.Page.WaitForSelectorAsync("#apikeys-table tr[data-name='home-assistant']");
            await page.WaitForTextAsync("#apikeys-table tr[data-name='deploy-script'] td:nth-child(6)", "disabled");
            await Capture(page, directory, "settings");
            page.AssertNoScriptErrors();
        }
        finally
        {
            foreach (var device in devices)
            {
                await device.DisposeAsync();
            }
        }
    }

    private static async Task PostAsync(DashboardBroker dashboard, string path, string json)
    {
        using var response = await dashboard.Http.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"POST {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    // From the top, as a person opening the page sees it (a detail panel scrolls the page when it opens).
    private static async Task Capture(DashboardPage page, string directory, string name)
    {
        await page.Page.EvaluateExpressionAsync("window.scrollTo(0, 0)");
        await page.Page.ScreenshotAsync(Path.Combine(directory, $"dashboard-{name}.png"), new ScreenshotOptions { FullPage = true });
    }
}
