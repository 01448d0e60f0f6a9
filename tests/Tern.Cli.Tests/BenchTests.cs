using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tern.Server;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// `tern bench` as a process against the in-process broker: short runs that check the counts
/// (sent, received, lost, gaps, duplicates), never the speed.
/// </summary>
public sealed class BenchTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Pubsub_CountsEveryMessageOnceAtEachSubscriber(int qos)
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "2", "-S", "3", "-q", qos.ToString(CultureInfo.InvariantCulture),
            "-M", "300", "--json", "-i", $"b{qos}-{Environment.ProcessId}");

        Assert.Equal(600, summary.GetProperty("sent").GetInt64());
        Assert.Equal(1800, summary.GetProperty("expected").GetInt64());
        Assert.Equal(1800, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(1800, summary.GetProperty("latencies").GetInt64());
    }

    [Fact]
    public async Task Pubsub_PairsEachPublisherWithItsSubscriber()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "4", "-S", "4", "-t", "pair/%i", "-T", "pair/%i", "-q", "1",
            "-M", "200", "--json", "-i", $"pair-{Environment.ProcessId}");

        Assert.Equal(800, summary.GetProperty("expected").GetInt64());
        Assert.Equal(800, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task Pubsub_AtAFixedRate_SendsEachPublisherItsCountAndLosesNothing(int qos)
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "3", "-S", "1", "-T", "#", "-q", qos.ToString(CultureInfo.InvariantCulture),
            "--rate", "3000", "-M", "400", "--json", "-i", $"rate{qos}-{Environment.ProcessId}");

        Assert.Equal(1200, summary.GetProperty("sent").GetInt64());
        Assert.Equal(1200, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.True(summary.GetProperty("loadCpuPercent").GetDouble() > 0);
    }

    [Fact]
    public async Task Pubsub_Warmup_CountsMessagesButRecordsNoLatencyForThem()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "2", "-S", "1", "-T", "#", "--rate", "2000", "-M", "200",
            "--warmup", "600", "--json", "-i", $"warm-{Environment.ProcessId}");

        Assert.Equal(400, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("latencies").GetInt64());
    }

    /// <summary>
    /// docs/cli.md's fan-in example (10 publishers, one subscriber on #, rate max) for 2 s with the
    /// defaults: the closed loop keeps each subscriber's backlog within the broker's default queue bound
    /// (1,000 messages), so a default broker drops nothing.
    /// </summary>
    [Fact]
    public async Task Pubsub_DocumentedFanIn_WithTheDefaults_LosesNothingOnADefaultBroker()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "10", "-S", "1", "-T", "#", "-W", "2", "--json", "-i", $"doc-{Environment.ProcessId}");

        Assert.Equal(1000, summary.GetProperty("maxLag").GetInt64());
        Assert.Equal(2.0, summary.GetProperty("seconds").GetDouble());
        Assert.True(summary.GetProperty("sent").GetInt64() > 0);
        Assert.Equal(summary.GetProperty("expected").GetInt64(), summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, broker.Server.Broker.Statistics.MessagesDropped);
    }

    [Fact]
    public async Task Pubsub_CountsOnlyItsOwnMessages_NotARetainedOneNorAnotherRunsOrClientsMessages()
    {
        // The foreign publisher's messages share the subscribers' QoS 0 queues, outside the run's
        // closed loop: a queue that holds them all keeps this test about counting, not about bounds.
        await using var broker = await TernBroker.StartAsync(settings: new Dictionary<string, string?> { ["Broker:MaxQueuedQoS0Messages"] = "1000000" });
        var (retained, retainer) = await TernProcess.RunAsync(["pub", "-h", "127.0.0.1", "-p", Port(broker), "-t", "bench/kept", "-m", "stored before the run", "-r", "-q", "1"]);
        await retainer.DisposeAsync();
        Assert.Equal(0, retained);
        await using var foreign = await StartForeignPublisherAsync(broker);

        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "2", "-S", "2", "-W", "1", "--json", "-i", $"own-{Environment.ProcessId}");

        long expected = summary.GetProperty("expected").GetInt64();
        Assert.True(expected > 0);
        Assert.Equal(expected, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(2, summary.GetProperty("ignoredRetained").GetInt64()); // once per subscriber, on SUBSCRIBE
        Assert.True(summary.GetProperty("ignoredForeign").GetInt64() > 0, "the other run's messages reached the subscribers on bench/#");
    }

    /// <summary>
    /// The broker keeps one QoS 0 message per subscriber and the run is open loop, so many of the run's
    /// messages never arrive, while another client keeps publishing on the subscribed topics: the drain
    /// after the window is bounded (it does not wait for the topics to go quiet), and the rates are over
    /// the requested window, not the wall time.
    /// </summary>
    [Fact]
    public async Task Pubsub_EndsSoonAfterTheWindowWhileAnotherClientKeepsPublishing_AndReportsTheRequestedWindow()
    {
        await using var broker = await StartBrokerAsync(new() { ["Broker:MaxQueuedQoS0Messages"] = "1" });
        await using var foreign = await StartForeignPublisherAsync(broker);

        var clock = Stopwatch.StartNew();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "4", "-S", "1", "-T", "#", "--max-lag", "0", "-W", "1", "--json",
            "-i", $"drain-{Environment.ProcessId}");
        var wall = clock.Elapsed;

        Assert.True(summary.GetProperty("lost").GetInt64() > 0, "the premise: a one-message queue loses some of an open-loop run");
        Assert.True(summary.GetProperty("ignoredForeign").GetInt64() > 0);
        Assert.Equal(1.0, summary.GetProperty("seconds").GetDouble());
        Assert.Equal(0, summary.GetProperty("maxLag").GetInt64());

        // 1 s of window and at most 2 s of drain; the rest is slack for process start-up on a busy machine.
        Assert.True(wall < TimeSpan.FromSeconds(20), $"tern bench ran {wall.TotalSeconds:F1} s for a 1 s window");
    }

    /// <summary>
    /// A broker may send matching messages before the SUBACK (spec 3.8.4); Tern does when another client
    /// publishes while the subscription is being added. A scripted peer does it every time: the bench
    /// acknowledges the early QoS 1 message and goes on instead of failing its handshake.
    /// </summary>
    [Fact]
    public async Task Sub_APublishBeforeTheSubAck_IsAcknowledgedAndTheRunGoesOn()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource(PubSubProcess.Timeout);

        var peer = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync(cts.Token);
            using var stream = new System.Net.Sockets.NetworkStream(socket);
            Assert.Equal(0x10, (await ReadPacketAsync(stream, cts.Token))[0]);
            await stream.WriteAsync(new byte[] { 0x20, 0x02, 0x00, 0x00 }, cts.Token);
            var subscribe = await ReadPacketAsync(stream, cts.Token);
            Assert.Equal(0x82, subscribe[0]);
            byte[] early = [0x32, 0x08, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b', 0x00, 0x07, (byte)'x'];
            byte[] subAck = [0x90, 0x03, subscribe[2], subscribe[3], 0x01];
            await stream.WriteAsync(early.Concat(subAck).ToArray(), cts.Token);
            var ack = await ReadPacketAsync(stream, cts.Token);
            try
            {
                // Stays connected until the bench ends (it may close with a reset).
                while (await stream.ReadAsync(new byte[64], cts.Token) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            return ack;
        });

        var (code, tern) = await TernProcess.RunAsync(["bench", "sub", "-p", port.ToString(CultureInfo.InvariantCulture), "-N", "1", "-t", "a/#", "-q", "1", "-W", "1", "--json"]);
        await using (tern)
        {
            Assert.True(code == 0, $"tern bench sub exited {code}\n{tern.Stdout}\n{tern.Stderr}");
        }

        Assert.Equal(new byte[] { 0x40, 0x02, 0x00, 0x07 }, await peer.WaitAsync(cts.Token));
    }

    /// <summary>One whole packet: fixed header, remaining length, body.</summary>
    private static async Task<byte[]> ReadPacketAsync(Stream stream, CancellationToken ct)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        await stream.ReadExactlyAsync(one, ct);
        bytes.Add(one[0]);
        int length = 0, shift = 0;
        do
        {
            await stream.ReadExactlyAsync(one, ct);
            bytes.Add(one[0]);
            length |= (one[0] & 0x7F) << shift;
            shift += 7;
        }
        while ((one[0] & 0x80) != 0);

        var body = new byte[length];
        await stream.ReadExactlyAsync(body, ct);
        bytes.AddRange(body);
        return [.. bytes];
    }

    /// <summary>
    /// 4 extra clients subscribe and unsubscribe 200 times a second while 2 pairs publish at QoS 1:
    /// their requests are answered, paced (never more than the schedule plus one per client), and
    /// the messages their matching filters get are neither counted as the run's nor lost from it.
    /// </summary>
    [Fact]
    public async Task Pubsub_Churn_SubscribesAndUnsubscribesBesideTheRun_PacedAndNotCountedAsTheRuns()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "2", "-t", "churn/%i", "-S", "2", "-T", "churn/%i", "-q", "1",
            "--rate", "1000", "-W", "2", "--churn", "200", "--churn-clients", "4", "--json", "-i", $"churn-{Environment.ProcessId}");

        long ops = summary.GetProperty("churnOps").GetInt64();
        Assert.True(ops > 0, "no SUBSCRIBE or UNSUBSCRIBE was acknowledged");
        Assert.True(ops <= (200 * 2) + 4, $"{ops} churn requests in a 2 s window at 200/s with 4 clients");
        Assert.Equal(0, summary.GetProperty("churnFailures").GetInt64());
        Assert.Equal(4, summary.GetProperty("churnClients").GetInt32());
        Assert.True(summary.GetProperty("churnDeliveries").GetInt64() > 0, "the churn filters that match a published topic ('+/0', '+/1') got messages");
        Assert.Equal(0, summary.GetProperty("clientErrors").GetInt64());
        Assert.Equal(8, summary.GetProperty("connected").GetInt64());

        long expected = summary.GetProperty("expected").GetInt64();
        Assert.Equal(summary.GetProperty("sent").GetInt64(), expected);
        Assert.Equal(expected, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("ackedNotDelivered").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
    }

    /// <summary>
    /// Each of 2 subscribers holds an exact subscription to each of its publisher's 300 topics
    /// (600 subscriptions, 600 topics): every message is expected once, at its publisher's subscriber.
    /// </summary>
    [Fact]
    public async Task Pubsub_SubTopics_SubscribesEveryFilter_AndExpectsEachMessageAtItsSubscriber()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "2", "-t", "many/%i/%j", "--topics", "300",
            "-S", "2", "-T", "many/%i/%j", "--sub-topics", "300", "-q", "1", "-M", "1200", "--json", "-i", $"many-{Environment.ProcessId}");

        Assert.Equal(600, summary.GetProperty("topics").GetInt64());
        Assert.Equal(600, summary.GetProperty("subscriptions").GetInt64());
        Assert.Equal(2400, summary.GetProperty("sent").GetInt64());
        Assert.Equal(2400, summary.GetProperty("expected").GetInt64());
        Assert.Equal(2400, summary.GetProperty("received").GetInt64());
        Assert.Equal(2400, summary.GetProperty("acked").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());

        var (code, tern) = await TernProcess.RunAsync(["bench", "pubsub", "-p", Port(broker), "-T", "many/%i", "--sub-topics", "2"]);
        await using (tern)
        {
            Assert.NotEqual(0, code);
            Assert.Contains("--sub-topics needs %j", tern.Stderr + tern.Stdout, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// QoS 1 fan-in, open loop, into a subscriber that takes 500 messages a second, on a broker that
    /// queues 100 messages per subscriber: what the tool reports as acknowledged but never delivered is
    /// exactly what the broker counts as dropped (0 for a broker that holds its publishers back instead),
    /// and every acknowledged message is either delivered or reported.
    /// </summary>
    [Fact]
    public async Task Pubsub_SlowSubscriberOverload_AckedButNeverDelivered_IsWhatTheBrokerDropped()
    {
        await using var broker = await StartBrokerAsync(new() { ["Broker:MaxQueuedMessages"] = "100" });
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-N", "4", "-t", "over/%i", "-S", "1", "-T", "over/#", "-q", "1", "-F", "16",
            "--max-lag", "0", "--sub-rate", "500", "-W", "1", "--drain", "30", "--json", "-i", $"over-{Environment.ProcessId}");

        Assert.NotEqual("limit", summary.GetProperty("drainEnd").GetString());
        long sent = summary.GetProperty("sent").GetInt64();
        long acked = summary.GetProperty("acked").GetInt64();
        long received = summary.GetProperty("received").GetInt64();
        long neverDelivered = summary.GetProperty("ackedNotDelivered").GetInt64();
        Assert.Equal(sent, acked);
        Assert.Equal(acked, received + neverDelivered);
        Assert.Equal(broker.Server.Broker.Statistics.MessagesDropped, neverDelivered);
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, summary.GetProperty("clientErrors").GetInt64());
    }

    /// <summary>
    /// The same overload against Mosquitto (its default queue of 1,000 messages per client): it
    /// acknowledges every message and drops what does not fit, which the tool reports precisely.
    /// </summary>
    [Fact]
    public async Task Pubsub_SlowSubscriberOverload_OnMosquitto_ReportsWhatItAcknowledgedAndNeverDelivered()
    {
        await using var broker = await MosquittoBroker.StartAsync(allowAnonymous: true);
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), "-N", "4", "-t", "over/%i", "-S", "1", "-T", "over/#",
            "-q", "1", "-F", "16", "--max-lag", "0", "--sub-rate", "500", "-W", "2", "--drain", "30", "--json", "-i", $"mover-{Environment.ProcessId}");

        Assert.NotEqual("limit", summary.GetProperty("drainEnd").GetString());
        long acked = summary.GetProperty("acked").GetInt64();
        long received = summary.GetProperty("received").GetInt64();
        long neverDelivered = summary.GetProperty("ackedNotDelivered").GetInt64();
        Assert.Equal(summary.GetProperty("sent").GetInt64(), acked);
        Assert.True(neverDelivered > 0, $"the premise: Mosquitto acknowledged {acked:N0} messages in 2 s, more than its queue and a 500/s subscriber take");
        Assert.Equal(acked, received + neverDelivered);
        Assert.Equal(summary.GetProperty("lost").GetInt64(), neverDelivered);
    }

    [Fact]
    public async Task Flags_FollowTernPubAndSub_HostIsDashH_CredentialsAreDashUAndDashCapitalP()
    {
        string dir = Directory.CreateTempSubdirectory("tern-bench-auth-").FullName;
        string users = Path.Combine(dir, "users.json");
        var (added, passwd) = await TernProcess.RunAsync(["passwd", "add", "bencher", "--password", "s3cret", "--iterations", "1000", "-f", users]);
        await passwd.DisposeAsync();
        Assert.Equal(0, added);
        await using var broker = await StartBrokerAsync(new() { ["Auth:AllowAnonymous"] = "false", ["Auth:UsersFile"] = users });

        var summary = await RunJsonAsync(
            "bench", "pubsub", "-h", "127.0.0.1", "-p", Port(broker), "-u", "bencher", "-P", "s3cret",
            "-N", "1", "-S", "1", "-M", "50", "-q", "1", "-t", "flags/x", "-T", "flags/#", "--json", "-i", $"flags-{Environment.ProcessId}");
        Assert.Equal(50, summary.GetProperty("received").GetInt64());

        var (refused, anonymous) = await TernProcess.RunAsync(["bench", "pubsub", "-h", "127.0.0.1", "-p", Port(broker), "-N", "1", "-M", "1", "--json"]);
        await using (anonymous)
        {
            Assert.Equal(1, refused);
            Assert.Contains("refused", anonymous.Stderr, StringComparison.Ordinal);
        }

        // -c is a flag, as in tern pub/sub (--disable-clean-session), not a count; -d (tern sub's debug) is not bench's.
        var (old, oldFlags) = await TernProcess.RunAsync(["bench", "pubsub", "-p", Port(broker), "-c", "2", "-d", "1"]);
        await using (oldFlags)
        {
            Assert.NotEqual(0, old);
        }

        var (helped, help) = await TernProcess.RunAsync(["bench", "pubsub", "--help"]);
        await using (help)
        {
            Assert.Equal(0, helped);
            Assert.Contains("-h, --host", help.Stdout, StringComparison.Ordinal);
            Assert.Contains("-N, --count", help.Stdout, StringComparison.Ordinal);
            Assert.Contains("-W, --duration", help.Stdout, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// -c: every publisher and subscriber has a persistent session. A session an earlier run left under
    /// a subscriber's id (subscribed elsewhere, a QoS 1 message queued) is ended before the run, so the
    /// run gets none of it; the broker stores the run's sessions; after the run none is left.
    /// </summary>
    [Fact]
    public async Task Pubsub_DisableCleanSession_StoresSessionsThatStartEmpty_AndEndsThemAfterTheRun()
    {
        string dir = Directory.CreateTempSubdirectory("tern-bench-store-").FullName;
        await using var broker = await TernBroker.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Persistence:Mode"] = "durable",
            ["Persistence:Directory"] = dir,
        });
        var mqtt = broker.Server.Broker;
        string prefix = $"persist-{Environment.ProcessId}";
        await LeaveSessionAsync(Port(broker), $"{prefix}-s0", "left/over");
        Assert.Equal(1, mqtt.FindClient($"{prefix}-s0")?.QueuedMessages);
        long rowsBefore = mqtt.GetStoreSnapshot()!.RowsWritten;

        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-c", "-N", "2", "-t", "persist/%i", "-S", "2", "-T", "persist/%i", "-q", "1",
            "-M", "200", "--json", "-i", prefix);

        Assert.False(summary.GetProperty("cleanSession").GetBoolean());
        Assert.Equal(400, summary.GetProperty("expected").GetInt64());
        Assert.Equal(400, summary.GetProperty("received").GetInt64());
        Assert.Equal(400, summary.GetProperty("acked").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("ackedNotDelivered").GetInt64());
        Assert.Equal(0, summary.GetProperty("ignoredForeign").GetInt64()); // the left-over message was not delivered
        Assert.Equal(4, summary.GetProperty("sessionsEnded").GetInt64());
        Assert.True(mqtt.GetStoreSnapshot()!.RowsWritten - rowsBefore >= 4, "the run's four sessions were written to the store");
        await TestWait.UntilAsync(() => mqtt.SessionCount == 0, "the run's sessions (and the left-over one) are ended");
    }

    /// <summary>The same on Mosquitto: a left-over session is ended before the run, and the QoS 2 pairs lose nothing.</summary>
    [Fact]
    public async Task Pubsub_DisableCleanSession_OnMosquitto_StartsFromEmptySessions_AndLosesNothing()
    {
        await using var broker = await MosquittoBroker.StartAsync(allowAnonymous: true);
        string port = broker.Port.ToString(CultureInfo.InvariantCulture);
        string prefix = $"mpersist-{Environment.ProcessId}";
        await LeaveSessionAsync(port, $"{prefix}-s1", "persist/1");

        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", port, "-c", "-N", "2", "-t", "persist/%i", "-S", "2", "-T", "persist/%i", "-q", "2", "-F", "16",
            "-M", "200", "--json", "-i", prefix);

        Assert.Equal(400, summary.GetProperty("expected").GetInt64());
        Assert.Equal(400, summary.GetProperty("received").GetInt64());
        Assert.Equal(400, summary.GetProperty("acked").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, summary.GetProperty("ignoredForeign").GetInt64());
        Assert.Equal(4, summary.GetProperty("sessionsEnded").GetInt64());
    }

    [Fact]
    public async Task Conn_DisableCleanSession_HoldsPersistentSessions_AndEndsThemAfter()
    {
        await using var broker = await TernBroker.StartAsync();
        var mqtt = broker.Server.Broker;
        string prefix = $"cpersist-{Environment.ProcessId}";
        var ready = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}.ready");
        await using var conn = TernProcess.Start(["bench", "conn", "-p", Port(broker), "-c", "-N", "20", "--json", "-i", prefix, "--ready-file", ready]);
        bool Held() => mqtt.GetClients().Count(c => c.ClientId.StartsWith(prefix, StringComparison.Ordinal) && c.Connected && c.SessionExpiryInterval > 0) == 20;

        // The tool has every CONNACK (it writes the file then), not only the broker every CONNECT.
        await TestWait.UntilAsync(() => File.Exists(ready), "bench conn to have its 20 connections", TernProcess.DefaultTimeout);
        File.Delete(ready);
        Assert.True(Held(), "20 connections with persistent sessions");

        await conn.SendSignalAsync("INT");
        var code = await conn.WaitForExitAsync(TernProcess.DefaultTimeout);
        Assert.True(code == 0, $"exit code {code}\n{conn.Stdout}\n{conn.Stderr}");
        var summary = JsonDocument.Parse(conn.Stdout.Trim().Split('\n')[^1]).RootElement.Clone();
        Assert.Equal(20, summary.GetProperty("connected").GetInt64());
        Assert.Equal(20, summary.GetProperty("sessionsEnded").GetInt64());
        await TestWait.UntilAsync(() => mqtt.SessionCount == 0, "the sessions are ended");
    }

    [Fact]
    public async Task Conn_OpensAndHoldsTheConnections()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync("bench", "conn", "-p", Port(broker), "-N", "200", "-W", "1", "--json", "-i", $"conn-{Environment.ProcessId}");

        Assert.Equal(200, summary.GetProperty("connected").GetInt64());
        Assert.Equal(0, summary.GetProperty("connectFailures").GetInt64());
    }

    private static string Port(TernBroker broker) => broker.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>What an earlier run could leave: a persistent session under <paramref name="clientId"/>, subscribed to <paramref name="topic"/> with a QoS 1 message queued.</summary>
    private static async Task LeaveSessionAsync(string port, string clientId, string topic)
    {
        var (subscribed, sub) = await TernProcess.RunAsync(["sub", "-h", "127.0.0.1", "-p", port, "-c", "-i", clientId, "-q", "1", "-t", topic, "-E"]);
        await sub.DisposeAsync();
        Assert.Equal(0, subscribed);
        var (published, pub) = await TernProcess.RunAsync(["pub", "-h", "127.0.0.1", "-p", port, "-t", topic, "-q", "1", "-m", "left by an earlier run"]);
        await pub.DisposeAsync();
        Assert.Equal(0, published);
    }

    /// <summary>Tern's broker in this process with configuration overrides, on a port the OS picks.</summary>
    private static async Task<TernBroker> StartBrokerAsync(Dictionary<string, string?> overrides)
    {
        overrides["Listeners:Tcp:Address"] = "127.0.0.1";
        overrides["Listeners:Tcp:Port"] = "0";
        overrides["Listeners:Ws:Enabled"] = "false";
        overrides["Dashboard:Enabled"] = "false";
        overrides["Persistence:Mode"] = "memory";
        var server = TernServer.Create(overrides: overrides);
        using var cts = new CancellationTokenSource(PubSubProcess.Timeout);
        await server.StartAsync(cts.Token);
        return new TernBroker(server);
    }

    /// <summary>Another `tern bench pub` run (same payload format, another run id) publishing on bench/foreign, once it is sending.</summary>
    private static async Task<TernProcess> StartForeignPublisherAsync(TernBroker broker)
    {
        var foreign = TernProcess.Start(
            ["bench", "pub", "-p", Port(broker), "-N", "1", "-t", "bench/foreign", "--rate", "500", "-W", "120", "--progress", "-i", $"foreign-{Environment.ProcessId}"]);
        await foreign.WaitForLineAsync(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"sent\s+[1-9][\d,]*/s"));
        return foreign;
    }

    private static async Task<JsonElement> RunJsonAsync(params string[] args)
    {
        var (code, tern) = await TernProcess.RunAsync(args);
        await using (tern)
        {
            Assert.True(code == 0, $"tern {string.Join(' ', args)} exited {code}\n{tern.Stdout}\n{tern.Stderr}");
            var json = tern.Stdout.Trim().Split('\n')[^1];
            return JsonDocument.Parse(json).RootElement.Clone();
        }
    }
}
