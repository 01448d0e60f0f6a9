using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>HTTP Basic on every API route, the default-password warning, and the listener's configuration.</summary>
public sealed class AuthAndListenerTests
{
    public static TheoryData<string, string> ApiRoutes => new()
    {
        { "GET", "api/v5/stats" },
        { "GET", "api/v5/nodes" },
        { "GET", "api/v5/clients" },
        { "GET", "api/v5/clients/someone" },
        { "DELETE", "api/v5/clients/someone" },
        { "GET", "api/v5/subscriptions" },
        { "GET", "api/v5/mqtt/retainer/messages" },
        { "POST", "api/v5/publish" },
        { "GET", "api/v5/no-such-endpoint" },
        { "GET", "api/v1/stats" },
    };

    [Theory]
    [MemberData(nameof(ApiRoutes))]
    public async Task Every_api_route_is_401_with_a_basic_challenge_without_credentials(string method, string path)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        using var response = await anonymous.SendAsync(Request(method, path));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Basic", challenge.Scheme);
        Assert.Contains("realm=", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains("Authentication required", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("admin", "wrong")]
    [InlineData("root", "public")]
    [InlineData("admin", "publi")]
    [InlineData("admin", "public ")]
    [InlineData("", "")]
    public async Task Wrong_credentials_are_401(string username, string password)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var client = dashboard.CreateClient(username, password);

        using var response = await client.GetAsync("api/v5/stats");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("Basic")]
    [InlineData("Basic !!!not-base64!!!")]
    [InlineData("Bearer YWRtaW46cHVibGlj")]
    public async Task Malformed_authorization_is_401(string header)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var client = dashboard.CreateClient(null, null);
        using var request = Request("GET", "api/v5/stats");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Default_password_is_accepted_reported_and_warned_about()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        // The dashboard's session says so, and the page shows its banner.
        using var login = await dashboard.Http.PostAsJsonAsync("api/dashboard/login", new { username = "admin", password = "public" });
        var session = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.True(session.GetProperty("defaultPassword").GetBoolean());
        Assert.Equal("admin", session.GetProperty("username").GetString());
        await dashboard.Log.WaitForAsync("accept the default password 'public'");
    }

    [Fact]
    public async Task A_changed_password_replaces_the_default_and_ends_the_warning()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Dashboard:Username"] = "ops",
            ["Dashboard:Password"] = "correct horse",
        });
        using var old = dashboard.CreateClient("admin", "public");
        using var changed = dashboard.CreateClient("ops", "correct horse");

        using var refused = await old.GetAsync("api/v5/nodes");
        using var accepted = await changed.GetAsync("api/v5/nodes");
        using var login = await changed.PostAsJsonAsync("api/dashboard/login", new { username = "ops", password = "correct horse" });

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Contains("\"defaultPassword\":false", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(dashboard.Log.Lines, line => line.Contains("default password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_page_and_its_assets_are_served_without_credentials()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        using var page = await anonymous.GetAsync("");
        using var script = await anonymous.GetAsync("app.js");
        using var style = await anonymous.GetAsync("app.css");
        using var missing = await anonymous.GetAsync("nothing-here");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"login-form\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal("text/css", style.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // A browser that has the page revalidates it with its ETag.
        using var conditional = new HttpRequestMessage(HttpMethod.Get, "app.js");
        conditional.Headers.IfNoneMatch.Add(script.Headers.ETag!);
        using var notModified = await anonymous.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task The_api_is_not_served_on_the_mqtt_websocket_listener()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Listeners:Ws:Enabled"] = "true",
            ["Listeners:Ws:Address"] = "127.0.0.1",
            ["Listeners:Ws:Port"] = "0",
        });
        using var ws = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{dashboard.Broker.Server.WsPort}/") };
        ws.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:public")));

        using var response = await ws.GetAsync("api/v5/stats");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Disabled_dashboard_binds_nothing()
    {
        await using var broker = await TestBroker.StartAsync();

        Assert.Equal(0, broker.Server.DashboardPort);
        Assert.Null(broker.Server.DashboardUrl);
    }

    [Theory]
    [InlineData("Dashboard:Port", "70000", "Dashboard:Port")]
    [InlineData("Dashboard:Address", "nowhere", "Dashboard:Address")]
    [InlineData("Dashboard:Username", "a:b", "Dashboard:Username")]
    [InlineData("Dashboard:Password", "", "Dashboard:Password")]
    [InlineData("Dashboard:Enabled", "maybe", "Dashboard:Enabled")]
    [InlineData("Dashboard:Passwort", "x", "Dashboard:Passwort")]
    public void Bad_dashboard_setting_is_a_configuration_error_naming_the_key(string key, string value, string expectedKey)
    {
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Listeners:Ws:Enabled"] = "false",
            [key] = value,
        }));

        Assert.Equal(expectedKey, ex.Key);
        Assert.Contains(expectedKey, ex.Message, StringComparison.Ordinal);
    }

    private static HttpRequestMessage Request(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("""{ "topic": "a" }""", Encoding.UTF8, "application/json");
        }

        return request;
    }
}
