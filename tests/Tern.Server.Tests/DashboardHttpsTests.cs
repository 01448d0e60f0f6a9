using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Server.Tests;

/// <summary>
/// The dashboard port over HTTPS (<c>Dashboard:Certificate</c>): a real broker with a certificate
/// made at test time, real HTTPS clients that trust only the test CA, and plain HTTP that must fail.
/// </summary>
public sealed class DashboardHttpsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private Task<TestBroker> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Dashboard:Enabled"] = "true",
            ["Dashboard:Address"] = "127.0.0.1",
            ["Dashboard:Port"] = "0",
            ["Dashboard:Certificate:Path"] = _pki.ServerCertFile,
            ["Dashboard:Certificate:KeyPath"] = _pki.ServerKeyFile,
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return TestBroker.StartAsync(settings);
    }

    /// <summary>An HTTPS client that trusts the test CA alone, as a browser given that CA would.</summary>
    private HttpClient TrustingClient(Uri baseUri)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(_pki.CaFile);
        var handler = new SocketsHttpHandler
        {
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
        };
        return new HttpClient(handler) { BaseAddress = baseUri, Timeout = TestTimeouts.External };
    }

    [Fact]
    public async Task With_a_certificate_the_dashboard_serves_https_its_login_cookie_is_secure_and_the_api_answers()
    {
        await using var broker = await StartAsync();
        var port = broker.Server.DashboardPort;
        Assert.Equal($"https://127.0.0.1:{port}", broker.Server.DashboardUrl);
        using var http = TrustingClient(new Uri($"https://127.0.0.1:{port}/"));

        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        using var login = await http.PostAsJsonAsync("api/dashboard/login", new { username = "admin", password = "public" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var cookies = login.Headers.GetValues("Set-Cookie").ToArray();
        var session = Assert.Single(cookies, c => c.StartsWith("tern_session=", StringComparison.Ordinal));
        Assert.Contains("; secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; secure", Assert.Single(cookies, c => c.StartsWith("tern_csrf=", StringComparison.Ordinal)), StringComparison.OrdinalIgnoreCase);

        // The session works over HTTPS: a read with the cookie alone.
        using (var withCookie = new HttpRequestMessage(HttpMethod.Get, "api/v5/clients"))
        {
            withCookie.Headers.Add("Cookie", session.Split(';')[0]);
            using var clients = await http.SendAsync(withCookie);
            Assert.Equal(HttpStatusCode.OK, clients.StatusCode);
        }

        await using var device = await broker.ConnectAsync("https-dev-1");
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v5/clients/https-dev-1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:public")));
        using var client = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, client.StatusCode);
        Assert.Equal("https-dev-1", JsonDocument.Parse(await client.Content.ReadAsStringAsync()).RootElement.GetProperty("clientid").GetString());
    }

    [Fact]
    public async Task Plain_http_to_the_https_dashboard_port_gets_no_answer()
    {
        await using var broker = await StartAsync();
        using var http = new HttpClient { Timeout = TestTimeouts.External };
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{broker.Server.DashboardPort}/api/v5/stats"));
        Assert.NotEqual(HttpRequestError.ConnectionError, ex.HttpRequestError);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_certificate_is_refused_by_its_own_tls_check()
    {
        await using var broker = await StartAsync();
        using var http = new HttpClient { Timeout = TestTimeouts.External };
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"https://127.0.0.1:{broker.Server.DashboardPort}/"));
        Assert.Equal(HttpRequestError.SecureConnectionError, ex.HttpRequestError);
    }

    [Theory]
    [InlineData("Dashboard:Certificate:Path", "missing.pem", "Dashboard:Certificate:Path")]
    [InlineData("Dashboard:Certificate:KeyPath", "missing.key", "Dashboard:Certificate:KeyPath")]
    [InlineData("Dashboard:Certificate:Colour", "blue", "Dashboard:Certificate:Colour")]
    public void A_bad_certificate_setting_stops_the_start_naming_its_key(string key, string value, string expectedKey)
    {
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Listeners:Ws:Enabled"] = "false",
            ["Dashboard:Certificate:Path"] = _pki.ServerCertFile,
            ["Dashboard:Certificate:KeyPath"] = _pki.ServerKeyFile,
            [key] = Path.IsPathRooted(value) || key.EndsWith("Colour", StringComparison.Ordinal) ? value : Path.Combine(_pki.Directory, value),
        }));

        Assert.Equal(expectedKey, ex.Key);
        Assert.Contains(expectedKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_without_a_certificate_is_a_configuration_error()
    {
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Listeners:Ws:Enabled"] = "false",
            ["Dashboard:Certificate:KeyPath"] = _pki.ServerKeyFile,
        }));

        Assert.Equal("Dashboard:Certificate:Path", ex.Key);
    }
}
