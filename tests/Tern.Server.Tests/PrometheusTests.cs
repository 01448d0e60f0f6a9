using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tern.Protocol;
using Tern.Server.Tests.Bridges;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// The Prometheus endpoint (<c>/api/v5/prometheus/stats</c>): its text after real traffic, its
/// authentication switch, and a real Prometheus server scraping it and answering PromQL.
/// </summary>
public sealed class PrometheusTests : IDisposable
{
    private const string Path = "api/v5/prometheus/stats";

    // The reasons docs/rest-api.md lists.
    private static readonly string[] Reasons =
    [
        "queue_full", "qos0_queue_full", "qos0_offline", "expired", "too_large_for_client",
        "session_ended", "no_subscribers", "not_authorized", "retained_store_full", "store_failed", "bridge_queue_full",
    ];

    private readonly string _directory = Directory.CreateTempSubdirectory("tern-prometheus-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_scrape_names_each_metric_with_the_values_of_the_traffic()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys(("Persistence:Mode", "memory")));
        var topic = TestIds.Topic();
        await using var subscriber = await dashboard.Broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
        await using var publisher = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));

        // 3 at QoS 0, 2 at QoS 1, 1 at QoS 2 reach the subscriber; one more QoS 1 reaches nobody.
        MqttQoS[] levels = [MqttQoS.AtMostOnce, MqttQoS.AtMostOnce, MqttQoS.AtMostOnce, MqttQoS.AtLeastOnce, MqttQoS.AtLeastOnce, MqttQoS.ExactlyOnce];
        foreach (var qos in levels)
        {
            await publisher.PublishAsync(topic, "reading", qos);
        }

        await publisher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.AtLeastOnce, retain: true);
        foreach (var qos in levels)
        {
            Assert.Equal(qos, (await subscriber.ReceivePublishAsync()).QoS);
        }

        var expected = new Dictionary<string, double>
        {
            ["tern_connections"] = 2,
            ["tern_connections_accepted_total"] = 2,
            ["tern_connections_refused_total"] = 0,
            ["tern_authentication_failures_total"] = 0,
            ["tern_sessions"] = 2,
            ["tern_subscriptions"] = 1,
            ["tern_retained_messages"] = 1,
            ["tern_messages_received_total{qos=\"0\"}"] = 3,
            ["tern_messages_received_total{qos=\"1\"}"] = 3,
            ["tern_messages_received_total{qos=\"2\"}"] = 1,
            ["tern_messages_sent_total{qos=\"0\"}"] = 3,
            ["tern_messages_sent_total{qos=\"1\"}"] = 2,
            ["tern_messages_sent_total{qos=\"2\"}"] = 1,
            ["tern_messages_dropped_total{reason=\"no_subscribers\"}"] = 1,
            ["tern_messages_dropped_total{reason=\"queue_full\"}"] = 0,
            ["tern_messages_dropped_total{reason=\"store_failed\"}"] = 0,
            ["tern_protocol_errors_total"] = 0,
        };

        // The exporter caches a scrape briefly: wait for one taken after the traffic.
        var samples = await ScrapeUntilAsync(
            dashboard.Http,
            samples => expected.All(e => samples.TryGetValue(e.Key, out var value) && value == e.Value),
            "the scrape shows the traffic: " + string.Join(", ", expected.Select(e => $"{e.Key} {e.Value}")));

        // Bytes count whole packets: at least the payloads, exactly what the stats API says.
        var stats = await dashboard.GetJsonAsync("api/v5/metrics?aggregate=true");
        Assert.InRange(samples["tern_received_bytes_total"], 6 * "reading".Length, double.MaxValue);
        Assert.Equal(stats.GetProperty("bytes.received").GetInt64(), samples["tern_received_bytes_total"]);
        Assert.Equal(stats.GetProperty("bytes.sent").GetInt64(), samples["tern_sent_bytes_total"]);

        // Every drop reason of docs/rest-api.md has its series; a memory broker has no store series.
        foreach (var reason in Reasons)
        {
            Assert.Contains($"tern_messages_dropped_total{{reason=\"{reason}\"}}", samples.Keys);
        }

        Assert.DoesNotContain(samples.Keys, name => name.StartsWith("tern_store_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_broker_in_a_process_reports_its_own_figures()
    {
        await using var first = await DashboardBroker.StartAsync(NoSys(("Persistence:Mode", "memory")));
        await using var second = await DashboardBroker.StartAsync(NoSys(("Persistence:Mode", "memory")));
        await using var one = await first.Broker.ConnectAsync(TestIds.Client("a"));
        await using var two = await second.Broker.ConnectAsync(TestIds.Client("b"));
        await using var three = await second.Broker.ConnectAsync(TestIds.Client("c"));

        await ScrapeUntilAsync(first.Http, samples => samples.GetValueOrDefault("tern_connections") == 1, "the first broker reports its 1 connection");
        await ScrapeUntilAsync(second.Http, samples => samples.GetValueOrDefault("tern_connections") == 2, "the second broker reports its 2 connections");
    }

    [Fact]
    public async Task A_refused_login_counts_as_an_authentication_failure()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys(("Auth:AllowAnonymous", "false")));
        await using (var client = await dashboard.Broker.OpenRawAsync())
        {
            var connAck = await client.ConnectAsync(TestIds.Client("anon"));
            Assert.NotEqual(0, connAck.ReasonCode);
        }

        await ScrapeUntilAsync(dashboard.Http, samples => samples.GetValueOrDefault("tern_authentication_failures_total") == 1, "tern_authentication_failures_total is 1");
    }

    [Fact]
    public async Task The_store_is_measured_when_the_broker_has_one()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys(("Persistence:Mode", "durable"), ("Persistence:Directory", _directory)));
        await using var publisher = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(TestIds.Topic(), "kept", MqttQoS.AtLeastOnce, retain: true);

        // The PUBACK of a stored message comes after its commit.
        var samples = await ScrapeUntilAsync(dashboard.Http, samples => samples.GetValueOrDefault("tern_store_commits_total") >= 1, "tern_store_commits_total is at least 1");
        Assert.InRange(samples["tern_store_rows_total"], 1, double.MaxValue);
        Assert.InRange(samples["tern_store_size_bytes"], 1, double.MaxValue);
        Assert.Equal(0, samples["tern_store_failed"]);
    }

    [Fact]
    public async Task The_scrape_asks_for_the_dashboard_credentials_by_default()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys());
        using var anonymous = dashboard.CreateClient(null, null);
        using var response = await anonymous.GetAsync(Path);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("tern_connections", await ScrapeAsync(dashboard.Http), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrometheusAuth_false_serves_the_scrape_alone_without_credentials()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys(("Dashboard:PrometheusAuth", "false")));
        using var anonymous = dashboard.CreateClient(null, null);
        Assert.Contains("tern_connections", await ScrapeAsync(anonymous), StringComparison.Ordinal);
        using var stats = await anonymous.GetAsync("api/v5/stats");
        Assert.Equal(HttpStatusCode.Unauthorized, stats.StatusCode);
    }

    [PrometheusFact]
    public async Task A_Prometheus_server_scrapes_the_broker_and_answers_PromQL()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys());
        const int Published = 7;
        await using (var publisher = await dashboard.Broker.ConnectAsync(TestIds.Client("pub")))
        {
            for (var i = 0; i < Published; i++)
            {
                await publisher.PublishAsync(TestIds.Topic(), $"m{i}", MqttQoS.AtLeastOnce);
            }
        }

        var directory = Directory.CreateTempSubdirectory("tern-prometheus-");
        try
        {
            var config = System.IO.Path.Combine(directory.FullName, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: tern
                    metrics_path: /{Path}
                    basic_auth:
                      username: admin
                      password: public
                    static_configs:
                      - targets: ['127.0.0.1:{dashboard.Broker.Server.DashboardPort}']
                """);

            var (prometheus, port) = await StartPrometheusAsync(config, System.IO.Path.Combine(directory.FullName, "data"));
            await using var stopPrometheus = prometheus;
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TestTimeouts.External };
            var query = "api/v1/query?query=" + Uri.EscapeDataString("tern_messages_received_total{job=\"tern\",qos=\"1\"}");
            string? answer = null;
            await Eventually.HoldsAsync(
                async () =>
                {
                    Assert.False(prometheus.HasExited, "prometheus exited:" + Environment.NewLine + prometheus.Output);
                    try
                    {
                        answer = await http.GetStringAsync(query);
                    }
                    catch (HttpRequestException)
                    {
                        return false; // not listening yet
                    }

                    return QueryValue(answer) == Published.ToString(CultureInfo.InvariantCulture);
                },
                $"Prometheus answers {query} with {Published}; last answer: {answer}; its output:{Environment.NewLine}{prometheus.Output}",
                TimeSpan.FromSeconds(30));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Each_bridge_has_its_state_queue_and_counts_labelled_by_name()
    {
        // "cloud" forwards both ways to a real Mosquitto; "backup" points where nothing listens.
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "up/#");
        var settings = NoSys(("Persistence:Mode", "memory"), ("Bridges:1:MaxQueued", "2"))
            .With(BridgeSettings.For(0, "cloud", mosquitto.Port, ("up/#", "out", 1), ("down/#", "in", 1)))
            .With(BridgeSettings.For(1, "backup", MosquittoRemote.FreePort(), ("up/#", "out", 1)));
        await using var dashboard = await DashboardBroker.StartAsync(settings);
        await ScrapeUntilAsync(dashboard.Http, samples => samples.GetValueOrDefault("tern_bridge_connected{name=\"cloud\"}") == 1, "the cloud bridge connected");
        await using var localWatch = await WatchClient.StartAsync(dashboard.Broker.Port, "down/#");

        // Three out: each reaches the remote through cloud; backup holds two and drops the third.
        for (var i = 0; i < 3; i++)
        {
            await localWatch.PublishAsync($"up/{i}", "reading");
        }

        await remoteWatch.WaitForAsync(r => r.Count == 3, "three messages on the remote");
        await WaitSubscribedAsync(dashboard);
        await remoteWatch.PublishAsync("down/cmd", "reboot");
        await localWatch.WaitForAsync("down/cmd", "reboot");

        var expected = new Dictionary<string, double>
        {
            ["tern_bridge_connected{name=\"cloud\"}"] = 1,
            ["tern_bridge_queued{name=\"cloud\"}"] = 0,
            ["tern_bridge_queued_max{name=\"cloud\"}"] = 1000,
            ["tern_bridge_messages_sent_total{name=\"cloud\"}"] = 3,
            ["tern_bridge_messages_received_total{name=\"cloud\"}"] = 1,
            ["tern_bridge_messages_dropped_total{name=\"cloud\"}"] = 0,
            ["tern_bridge_connected{name=\"backup\"}"] = 0,
            ["tern_bridge_queued{name=\"backup\"}"] = 2,
            ["tern_bridge_queued_max{name=\"backup\"}"] = 2,
            ["tern_bridge_messages_sent_total{name=\"backup\"}"] = 0,
            ["tern_bridge_messages_received_total{name=\"backup\"}"] = 0,
            ["tern_bridge_messages_dropped_total{name=\"backup\"}"] = 1,
            ["tern_messages_dropped_total{reason=\"bridge_queue_full\"}"] = 1,
        };
        await ScrapeUntilAsync(
            dashboard.Http,
            samples => expected.All(e => samples.TryGetValue(e.Key, out var value) && value == e.Value),
            "the scrape shows both bridges: " + string.Join(", ", expected.Select(e => $"{e.Key} {e.Value}")));
    }

    /// <summary>The in rules are subscribed on the remote (a message sent before would not come back).</summary>
    private static async Task WaitSubscribedAsync(DashboardBroker dashboard)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.External;
        while (!(await dashboard.GetJsonAsync("api/v5/bridges"))[0].GetProperty("subscribed").GetBoolean())
        {
            Assert.True(DateTime.UtcNow < deadline, "the cloud bridge subscribed its in rules on the remote");
            await Task.Delay(20);
        }
    }

    private static Dictionary<string, string?> NoSys(params (string Key, string Value)[] settings)
    {
        // No $SYS reports: their retained topics would change the counts.
        var merged = new Dictionary<string, string?> { ["Broker:SysIntervalSeconds"] = "0" };
        foreach (var (key, value) in settings)
        {
            merged[key] = value;
        }

        return merged;
    }

    private static async Task<string> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync(Path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {Path} answered {(int)response.StatusCode}: {body}");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return body;
    }

    /// <summary>Scrapes until <paramref name="condition"/> holds for the samples; fails with the last scrape.</summary>
    private static async Task<Dictionary<string, double>> ScrapeUntilAsync(HttpClient http, Func<Dictionary<string, double>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Close;
        while (true)
        {
            var exposition = await ScrapeAsync(http);
            var samples = Parse(exposition);
            if (condition(samples))
            {
                return samples;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Within {TestTimeouts.Close.TotalSeconds:0.#} s: {what}. The last scrape:{Environment.NewLine}{exposition}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The samples of a Prometheus text exposition: <c>name{labels}</c> to value.</summary>
    private static Dictionary<string, double> Parse(string exposition)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            // name{labels} value [timestamp]; label values here hold no spaces. "name{}" is "name".
            var parts = line.Split(' ');
            var series = parts[0].EndsWith("{}", StringComparison.Ordinal) ? parts[0][..^2] : parts[0];
            samples[series] = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }

        return samples;
    }

    /// <summary>The value of the single series in a Prometheus instant-query answer, or null.</summary>
    private static string? QueryValue(string answer)
    {
        var data = JsonDocument.Parse(answer).RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        return result.GetArrayLength() == 1 ? result[0].GetProperty("value")[1].GetString() : null;
    }

    /// <summary>
    /// Starts Prometheus on a port that was free a moment before; if another process took it meanwhile
    /// (Prometheus then exits with "address already in use"), on another one.
    /// </summary>
    private static async Task<(ProcessRunner Prometheus, int Port)> StartPrometheusAsync(string config, string storage)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var prometheus = ProcessRunner.Start(
                PrometheusFactAttribute.Binary,
                ["--config.file=" + config, "--storage.tsdb.path=" + storage, $"--web.listen-address=127.0.0.1:{port}"],
                "prometheus");
            await Eventually.HoldsAsync(
                () => Task.FromResult(prometheus.HasExited || prometheus.Output.Contains("Server is ready to receive web requests", StringComparison.Ordinal)),
                $"Prometheus is ready or has exited; its output:{Environment.NewLine}{prometheus.Output}",
                TimeSpan.FromSeconds(30));
            if (prometheus.HasExited && prometheus.Output.Contains("address already in use", StringComparison.Ordinal) && attempt < 3)
            {
                await prometheus.DisposeAsync();
                continue;
            }

            return (prometheus, port);
        }
    }

    /// <summary>A free port for a program that cannot take port 0 (see <see cref="TestPorts.Free"/>).</summary>
    private static int FreePort() => TestPorts.Free();
}

/// <summary>A test that needs the <c>prometheus</c> server; skipped, saying what to install, when it is absent.</summary>
public sealed class PrometheusFactAttribute : FactAttribute
{
    /// <summary>Where the Debian package <c>prometheus</c> installs the server.</summary>
    public const string Binary = "/usr/bin/prometheus";

    public PrometheusFactAttribute()
    {
        if (!File.Exists(Binary))
        {
            Skip = $"{Binary} is missing: install the Debian package 'prometheus' (apt-get install -y prometheus; ./test.sh installs it).";
        }
    }
}
