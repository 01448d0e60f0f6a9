using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Server.Tests;

/// <summary>A real broker with its dashboard and REST API on 127.0.0.1, both on ports the OS picks.</summary>
public sealed class DashboardBroker : IAsyncDisposable
{
    private DashboardBroker(TestBroker broker, LogCapture log)
    {
        Broker = broker;
        Log = log;
        BaseUri = new Uri($"http://127.0.0.1:{broker.Server.DashboardPort}/");
        Http = CreateClient("admin", "public");
    }

    public TestBroker Broker { get; }

    public LogCapture Log { get; }

    /// <summary>The dashboard page, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary>An HTTP client that sends the default credentials.</summary>
    public HttpClient Http { get; }

    /// <summary>Starts a broker; <paramref name="settings"/> override the defaults (e.g. <c>Dashboard:Password</c>).</summary>
    public static async Task<DashboardBroker> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Dashboard:Enabled"] = "true",
            ["Dashboard:Address"] = "127.0.0.1",
            ["Dashboard:Port"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        LogCapture? log = null;
        var broker = await TestBroker.StartAsync(merged, server => log = LogCapture.Attach(server));
        if (broker.Server.DashboardPort <= 0)
        {
            await broker.DisposeAsync();
            throw new InvalidOperationException($"TernServer.DashboardPort is {broker.Server.DashboardPort} after start; expected the bound port.");
        }

        return new DashboardBroker(broker, log!);
    }

    /// <summary>An HTTP client for the REST API; null credentials send no Authorization header.</summary>
    public HttpClient CreateClient(string? username, string? password)
    {
        var client = new HttpClient { BaseAddress = BaseUri, Timeout = TestTimeouts.External };
        if (username is not null)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}"));
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", token);
        }

        return client;
    }

    /// <summary>GETs <paramref name="path"/> and requires 200 with a JSON body.</summary>
    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>POSTs <paramref name="json"/> to <c>/api/v5/publish</c>.</summary>
    public Task<HttpResponseMessage> PublishAsync(string json)
        => Http.PostAsync("api/v5/publish", new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>POSTs a publish request built from an object.</summary>
    public Task<HttpResponseMessage> PublishAsync(object request)
        => Http.PostAsJsonAsync("api/v5/publish", request);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Broker.DisposeAsync();
    }
}
