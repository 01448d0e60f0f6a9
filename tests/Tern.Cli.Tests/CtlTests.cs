using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern ctl</c> run as a real process against a real broker in this process, its dashboard and
/// REST API on a port the OS picks, and real MQTT clients over TCP.
/// </summary>
public sealed class CtlTests
{
    [Fact]
    public async Task Status_ShowsTheBrokersCounters()
    {
        await using var broker = await CtlBroker.StartAsync();
        await using var client = await broker.Mqtt.ConnectAsync("ctl-status-1");
        await TestWait.UntilAsync(() => broker.Mqtt.Server.Broker.GetClients().Count == 1, "the client is listed");

        // Standard output is not a terminal here: JSON, the API's three documents side by side.
        var json = await broker.CtlAsync("status");
        Assert.Equal(0, json.ExitCode);
        Assert.Equal("", json.Stderr);
        var status = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("0.1.0", status.GetProperty("node").GetProperty("version").GetString());
        Assert.Equal(1, status.GetProperty("stats").GetProperty("connections.count").GetInt32());
        Assert.Equal(1, status.GetProperty("stats").GetProperty("sessions.count").GetInt32());
        Assert.Equal(1, status.GetProperty("metrics").GetProperty("client.connect").GetInt64());

        var table = await broker.CtlAsync("status", "--table");
        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"│ connections\s+│ 1\s+│", table.Stdout);
        Assert.Matches(@"│ version\s+│ 0\.1\.0\s+│", table.Stdout);
        Assert.Contains("store", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientsList_ShowsConnectedClients_WithFilters()
    {
        await using var broker = await CtlBroker.StartAsync();
        await using var sensor = await broker.Mqtt.ConnectAsync("sensor-17", version: MqttProtocolVersion.V500);
        await sensor.SubscribeGrantedAsync("sensors/#", MqttQoS.AtLeastOnce);
        await using var pump = await broker.Mqtt.ConnectAsync("pump-2");

        var all = await broker.CtlAsync("clients", "list", "--json");
        Assert.Equal(0, all.ExitCode);
        var page = JsonDocument.Parse(all.Stdout).RootElement;
        Assert.Equal(["pump-2", "sensor-17"], page.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("clientid").GetString()));
        Assert.Equal(2, page.GetProperty("meta").GetProperty("count").GetInt32());

        var filtered = await broker.CtlAsync("clients", "list", "--like-clientid", "sensor", "--conn-state", "connected", "--table");
        Assert.Equal(0, filtered.ExitCode);
        Assert.Matches(@"│ sensor-17\s+│ -\s+│ connected\s+│ 127\.0\.0\.1:\d+\s+│ 5\.0\s+│ 1\s+│", filtered.Stdout);
        Assert.DoesNotContain("pump-2", filtered.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 client", filtered.Stdout, StringComparison.Ordinal);

        var show = await broker.CtlAsync("clients", "show", "sensor-17");
        Assert.Equal(0, show.ExitCode);
        var client = JsonDocument.Parse(show.Stdout).RootElement;
        Assert.Equal("sensor-17", client.GetProperty("clientid").GetString());
        Assert.Equal(5, client.GetProperty("proto_ver").GetInt32());

        var subscriptions = await broker.CtlAsync("subscriptions", "list", "--clientid", "sensor-17", "--table");
        Assert.Equal(0, subscriptions.ExitCode);
        Assert.Matches(@"│ sensor-17\s+│ sensors/#\s+│ 1\s+│", subscriptions.Stdout);
    }

    [Fact]
    public async Task ClientsKick_ClosesTheClientsConnection()
    {
        await using var broker = await CtlBroker.StartAsync();

        // A client id with a slash: sent escaped (%2F) in the API's path.
        await using var client = await broker.Mqtt.ConnectAsync("site-4/kick-me");

        var kick = await broker.CtlAsync("clients", "kick", "site-4/kick-me");
        Assert.Equal(0, kick.ExitCode);
        Assert.Equal("Kicked 'site-4/kick-me': its connection is closed.\n", kick.Stderr);
        Assert.True(await client.WaitForCloseAsync(), "the broker did not close the kicked client's connection");

        var again = await broker.CtlAsync("clients", "show", "site-4/kick-me");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("", again.Stdout);
        Assert.Equal("No client 'site-4/kick-me': none is connected with that id and no session is kept for it.", OneLine(again.Stderr));
    }

    [Fact]
    public async Task Retained_ListShowDelete()
    {
        await using var broker = await CtlBroker.StartAsync();
        await using (var publisher = await broker.Mqtt.ConnectAsync("thermo-1"))
        {
            await publisher.PublishAsync("sensors/temp", "21.5", retain: true);
            await publisher.PublishAsync("sensors/raw", new byte[] { 0, 1, 0xFF }, retain: true);
            await publisher.DisconnectAsync();
        }

        await TestWait.UntilAsync(() => broker.Mqtt.Server.Broker.GetRetainedMessages("sensors/#").Count == 2, "both messages are retained");

        var list = await broker.CtlAsync("retained", "list");
        Assert.Equal(0, list.ExitCode);
        Assert.Equal(["sensors/raw", "sensors/temp"], JsonDocument.Parse(list.Stdout).RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("topic").GetString()));

        var show = await broker.CtlAsync("retained", "show", "sensors/temp");
        Assert.Equal(0, show.ExitCode);
        var message = JsonDocument.Parse(show.Stdout).RootElement;
        Assert.Equal("21.5", Encoding.UTF8.GetString(Convert.FromBase64String(message.GetProperty("payload").GetString()!)));
        Assert.Equal("thermo-1", message.GetProperty("from_clientid").GetString());

        // A table shows text as text, anything else in hex.
        Assert.Matches(@"│ payload\s+│ 21\.5\s+│", (await broker.CtlAsync("retained", "show", "sensors/temp", "--table")).Stdout);
        Assert.Matches(@"│ payload\s+│ 3 bytes \(hex\): 0001FF\s+│", (await broker.CtlAsync("retained", "show", "sensors/raw", "--table")).Stdout);

        var delete = await broker.CtlAsync("retained", "delete", "sensors/temp");
        Assert.Equal(0, delete.ExitCode);
        Assert.Equal("Deleted the retained message of 'sensors/temp'.\n", delete.Stderr);
        Assert.Equal(["sensors/raw"], broker.Mqtt.Server.Broker.GetRetainedMessages("sensors/#").Select(m => m.Topic));

        var gone = await broker.CtlAsync("retained", "show", "sensors/temp");
        Assert.Equal(1, gone.ExitCode);
        Assert.Equal("No retained message on topic 'sensors/temp'.", OneLine(gone.Stderr));
    }

    [Fact]
    public async Task Bans_AddRefusesTheConnect_DeleteLetsItIn()
    {
        await using var broker = await CtlBroker.StartAsync();

        var add = await broker.CtlAsync("bans", "add", "--clientid", "flaky-9", "--for", "10m", "--reason", "firmware bug");
        Assert.Equal(0, add.ExitCode);
        var ban = JsonDocument.Parse(add.Stdout).RootElement;
        Assert.Equal("clientid", ban.GetProperty("as").GetString());
        Assert.Equal("flaky-9", ban.GetProperty("who").GetString());
        Assert.Equal("firmware bug", ban.GetProperty("reason").GetString());
        var until = DateTimeOffset.Parse(ban.GetProperty("until").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(until - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));

        await using (var refused = await broker.Mqtt.OpenRawAsync())
        {
            var connAck = await refused.ConnectAsync("flaky-9");
            Assert.Equal(5, connAck.ReasonCode); // MQTT 3.1.1: not authorized
        }

        var list = await broker.CtlAsync("bans", "list", "--table");
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"│ clientid\s+│ flaky-9\s+│ firmware bug\s+│ \d{4}-", list.Stdout);

        var delete = await broker.CtlAsync("bans", "delete", "clientid", "flaky-9");
        Assert.Equal(0, delete.ExitCode);
        Assert.Equal("Lifted the ban of clientid 'flaky-9'.\n", delete.Stderr);
        await using (var admitted = await broker.Mqtt.ConnectAsync("flaky-9"))
        {
            Assert.False(admitted.IsClosed);
        }

        var again = await broker.CtlAsync("bans", "delete", "clientid", "flaky-9");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("No ban of clientid 'flaky-9'.", OneLine(again.Stderr));

        var both = await broker.CtlAsync("bans", "add", "--clientid", "a", "--username", "b");
        Assert.Equal(1, both.ExitCode);
        Assert.Equal("Give exactly one of --clientid, --username and --peerhost.", OneLine(both.Stderr));

        var badFor = await broker.CtlAsync("bans", "add", "--clientid", "a", "--for", "soon");
        Assert.Equal(1, badFor.ExitCode);
        Assert.StartsWith("--for must be a duration such as 30s", OneLine(badFor.Stderr), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_DeliversToASubscriber()
    {
        await using var broker = await CtlBroker.StartAsync();
        await using var subscriber = await broker.Mqtt.ConnectAsync("listener-1");
        await subscriber.SubscribeGrantedAsync("lights/#", MqttQoS.AtLeastOnce);

        var publish = await broker.CtlAsync("publish", "lights/hall", "on", "-q", "1", "-r");
        Assert.Equal(0, publish.ExitCode);
        Assert.Equal("Published to 'lights/hall' and retained it.\n", publish.Stderr);
        Assert.True(JsonDocument.Parse(publish.Stdout).RootElement.TryGetProperty("id", out _));

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal("lights/hall", received.Topic);
        Assert.Equal("on", Encoding.UTF8.GetString(received.Payload.Span));
        Assert.Single(broker.Mqtt.Server.Broker.GetRetainedMessages("lights/hall"));
    }

    [Fact]
    public async Task BadInput_IsTheApisMessage_OnOneLine()
    {
        await using var broker = await CtlBroker.StartAsync();
        var result = await broker.CtlAsync("clients", "list", "--conn-state", "asleep");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal("conn_state must be connected, idle or disconnected, not 'asleep'.", OneLine(result.Stderr));
    }

    [Fact]
    public async Task WrongPassword_ExitsOne_WithOneLine()
    {
        await using var broker = await CtlBroker.StartAsync();
        var result = await broker.CtlAsync("status", "--password", "guess");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal(
            $"The broker at {broker.Url} refused the credentials of user 'admin' (BAD_USERNAME_OR_PWD): check --user and --password (TERN_CTL_USER, TERN_CTL_PASSWORD), or give --api-key.",
            OneLine(result.Stderr));
    }

    [Fact]
    public async Task UnreachableUrl_ExitsOne_WithOneLine()
    {
        // A free port outside the ephemeral range: nothing listens there, and no port-0 listener of another test takes it.
        var port = TestPorts.Free();
        var url = $"http://127.0.0.1:{port}";

        var (code, process) = await TernProcess.RunAsync(["ctl", "clients", "list", "--url", url]);
        await using (process)
        {
            Assert.Equal(1, code);
            Assert.Equal("", process.Stdout);
            Assert.Equal(
                $"Cannot reach the broker's API at {url}: connection refused. Is 'tern start' running with the dashboard on? (--url, TERN_CTL_URL)",
                OneLine(process.Stderr));
        }
    }

    [Fact]
    public async Task EnvironmentVariables_AreUsed_AndFlagsWin()
    {
        await using var broker = await CtlBroker.StartAsync(new() { ["Dashboard:Username"] = "ops", ["Dashboard:Password"] = "s3cret-enough" });
        var environment = new Dictionary<string, string>
        {
            ["TERN_CTL_URL"] = broker.Url,
            ["TERN_CTL_USER"] = "ops",
            ["TERN_CTL_PASSWORD"] = "s3cret-enough",
        };

        var (code, process) = await TernProcess.RunAsync(["ctl", "status"], environment);
        await using (process)
        {
            Assert.Equal(0, code);
            Assert.Equal("0.1.0", JsonDocument.Parse(process.Stdout).RootElement.GetProperty("node").GetProperty("version").GetString());
        }

        var (flagCode, flagProcess) = await TernProcess.RunAsync(["ctl", "status", "--password", "wrong"], environment);
        await using (flagProcess)
        {
            Assert.Equal(1, flagCode);
            Assert.StartsWith($"The broker at {broker.Url} refused the credentials of user 'ops'", OneLine(flagProcess.Stderr), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ApiKey_IsSentAsBasicCredentials()
    {
        // Until the broker has API keys of its own, a key and secret equal to the dashboard's user and password prove how they are sent.
        await using var broker = await CtlBroker.StartAsync(new() { ["Dashboard:Username"] = "key-1", ["Dashboard:Password"] = "secret-1" });
        var (code, process) = await TernProcess.RunAsync(["ctl", "status", "--url", broker.Url], new Dictionary<string, string> { ["TERN_CTL_API_KEY"] = "key-1:secret-1" });
        await using (process)
        {
            Assert.Equal(0, code);
            Assert.Equal(0, JsonDocument.Parse(process.Stdout).RootElement.GetProperty("stats").GetProperty("connections.count").GetInt32());
        }

        var refused = await broker.CtlAsync("status", "--api-key", "key-1:wrong");
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"The broker at {broker.Url} refused the API key 'key-1' (BAD_USERNAME_OR_PWD): check --api-key (TERN_CTL_API_KEY).", OneLine(refused.Stderr));
    }

    [Fact]
    public async Task Https_dashboard_status_works_with_cacert_or_insecure_and_an_untrusted_certificate_is_one_clear_line()
    {
        using var pki = new Tern.Transports.Tests.TestPki();
        await using var broker = await CtlBroker.StartAsync(new()
        {
            ["Dashboard:Certificate:Path"] = pki.ServerCertFile,
            ["Dashboard:Certificate:KeyPath"] = pki.ServerKeyFile,
        });
        Assert.StartsWith("https://127.0.0.1:", broker.Url, StringComparison.Ordinal);

        var trusted = await broker.CtlAsync("status", "--cacert", pki.CaFile);
        Assert.Equal(0, trusted.ExitCode);
        Assert.Equal("0.1.0", JsonDocument.Parse(trusted.Stdout).RootElement.GetProperty("node").GetProperty("version").GetString());

        var (envCode, envProcess) = await TernProcess.RunAsync(["ctl", "status", "--url", broker.Url], new Dictionary<string, string> { ["TERN_CTL_CACERT"] = pki.CaFile });
        await using (envProcess)
        {
            Assert.Equal(0, envCode);
        }

        var untrusted = await broker.CtlAsync("status");
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Equal("", untrusted.Stdout);
        Assert.Equal(
            $"Cannot reach the broker's API at {broker.Url}: the broker's certificate is not trusted: give --cacert with the certificate of the CA that signed it (or the certificate itself, if self-signed), or --insecure to skip the check.",
            OneLine(untrusted.Stderr));

        // Another CA's bundle does not vouch for this certificate.
        var other = await broker.CtlAsync("status", "--cacert", pki.OtherCaClientCertFile);
        Assert.Equal(1, other.ExitCode);
        Assert.Contains($"does not chain to a certificate of --cacert {pki.OtherCaClientCertFile}", OneLine(other.Stderr), StringComparison.Ordinal);

        var insecure = await broker.CtlAsync("clients", "list", "--insecure");
        Assert.Equal(0, insecure.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(insecure.Stdout).RootElement.GetProperty("meta").GetProperty("count").GetInt32());

        var missing = await broker.CtlAsync("status", "--cacert", Path.Combine(pki.Directory, "nope.pem"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"--cacert (TERN_CTL_CACERT): file not found: {Path.Combine(pki.Directory, "nope.pem")}", OneLine(missing.Stderr));

        var plainUrl = "http://" + broker.Url["https://".Length..];
        var (plainCode, plain) = await TernProcess.RunAsync(["ctl", "status", "--url", plainUrl]);
        await using (plain)
        {
            Assert.Equal(1, plainCode);
            Assert.Equal($"Cannot reach the broker's API at {plainUrl}: the connection was closed without an answer (is the dashboard on https://?).", OneLine(plain.Stderr));
        }
    }

    /// <summary>The only line of <paramref name="stderr"/>; fails when there are more.</summary>
    private static string OneLine(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}:\n{stderr}");
        return lines[0];
    }

    [Fact]
    public async Task Trace_client_prints_its_packets_live_and_deletes_the_trace_on_ctrl_c()
    {
        await using var broker = await CtlBroker.StartAsync();
        await using var trace = TernProcess.Start(["ctl", "trace", "client", "dev-traced", "--url", broker.Url]);
        await trace.WaitForLineAsync(l => l.StartsWith("Tracing client id 'dev-traced'", StringComparison.Ordinal));

        await using var other = await broker.Mqtt.ConnectAsync("dev-other");
        await using var device = await broker.Mqtt.ConnectAsync("dev-traced");
        await device.PublishAsync("plant/valve", "open", MqttQoS.AtLeastOnce);
        await other.PublishAsync("plant/other", "not traced");

        var line = await trace.WaitForLineAsync(l => l.Contains("PUBLISH topic=plant/valve", StringComparison.Ordinal));
        Assert.Contains("in   dev-traced@127.0.0.1:", line, StringComparison.Ordinal);
        await trace.WaitForLineAsync(l => l.Contains("out  dev-traced@", StringComparison.Ordinal) && l.Contains("PUBACK id=", StringComparison.Ordinal));

        await trace.SendSignalAsync("INT");
        Assert.Equal(0, await trace.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("dev-other", trace.Stdout, StringComparison.Ordinal);
        Assert.Empty(broker.Mqtt.Server.Broker.Traces.All);
    }
}

/// <summary>A broker with its dashboard on 127.0.0.1 on a port the OS picks, and <c>tern ctl</c> pointed at it.</summary>
internal sealed class CtlBroker : IAsyncDisposable
{
    private CtlBroker(TestBroker mqtt)
    {
        Mqtt = mqtt;
        Url = mqtt.Server.DashboardUrl!;
    }

    public TestBroker Mqtt { get; }

    /// <summary>The dashboard's address, e.g. <c>http://127.0.0.1:41234</c> (<c>https://</c> with a certificate).</summary>
    public string Url { get; }

    public static async Task<CtlBroker> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Dashboard:Enabled"] = "true",
            ["Dashboard:Address"] = "127.0.0.1",
            ["Dashboard:Port"] = "0",
        };
        foreach (var (key, value) in settings ?? [])
        {
            merged[key] = value;
        }

        return new CtlBroker(await TestBroker.StartAsync(merged));
    }

    /// <summary>Runs <c>tern ctl ARGS --url URL</c> (default credentials) to completion.</summary>
    public async Task<CtlResult> CtlAsync(params string[] args)
    {
        var (code, process) = await TernProcess.RunAsync(["ctl", .. args, "--url", Url]);
        await using (process)
        {
            return new CtlResult(code, process.Stdout, process.Stderr);
        }
    }

    /// <summary>Runs <c>tern ctl ARGS --url URL</c> with <paramref name="input"/> on its standard input.</summary>
    public async Task<CtlResult> CtlWithInputAsync(string input, params string[] args)
    {
        await using var process = TernProcess.Start(["ctl", .. args, "--url", Url]);
        await process.WriteInputAsync(input);
        var code = await process.WaitForExitAsync(TernProcess.DefaultTimeout);
        return new CtlResult(code, process.Stdout, process.Stderr);
    }

    public ValueTask DisposeAsync() => Mqtt.DisposeAsync();
}

/// <summary>What a <c>tern ctl</c> run printed and returned.</summary>
internal sealed record CtlResult(int ExitCode, string Stdout, string Stderr);
