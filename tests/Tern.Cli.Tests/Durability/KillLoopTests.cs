using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Tern.Client;
using Tern.Protocol;
using Xunit.Abstractions;

namespace Tern.Cli.Tests.Durability;

/// <summary>
/// The durable store's promise, tested the hard way: <c>tern start</c> runs as a child process under
/// QoS 1 and QoS 2 load, with one persistent subscriber online and one offline, and is killed with
/// SIGKILL at random moments, again and again (and stopped cleanly once). Afterwards every message the
/// broker acknowledged must reach both subscribers (QoS 1 at least once, QoS 2 exactly once), the
/// retained messages must be there, and a session whose expiry passed must be gone.
/// TERN_KILL_LOOPS sets the number of kills (default 20), TERN_KILL_SEED replays a run.
/// </summary>
public sealed class KillLoopTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-kill-").FullName;
    private readonly int _port = Net.FreePort();
    private TernProcess? _broker;

    public Task InitializeAsync() => Task.CompletedTask;

    // xunit 2 ends a test class through IAsyncLifetime, not IAsyncDisposable: without it the broker outlived the test.
    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Nothing_acknowledged_is_lost_when_the_broker_is_killed_again_and_again()
    {
        var kills = int.TryParse(Environment.GetEnvironmentVariable("TERN_KILL_LOOPS"), CultureInfo.InvariantCulture, out var k) ? k : 20;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("TERN_KILL_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        var random = new Random(seed);
        output.WriteLine($"seed {seed} (replay with TERN_KILL_SEED={seed}), {kills} kills");

        await StartBrokerAsync();
        var online = new Receiver();
        var offline = new Receiver();
        await using var onlineClient = await ConnectAsync("kill-sub-online", online);
        await SubscribeAsync(onlineClient, "kill/data/#");
        await using (var offlineClient = await ConnectAsync("kill-sub-offline", offline))
        {
            await SubscribeAsync(offlineClient, "kill/data/#");
            await offlineClient.DisconnectAsync();
        }

        // A session that expires after 1 s: gone after the loop (the broker restarts in between).
        await using (var expiring = new MqttClient(new MqttClientOptions
        {
            Uri = Uri,
            ClientId = "kill-expiring",
            CleanSession = false,
            ProtocolVersion = MqttProtocolVersion.V500,
            SessionExpiryInterval = 1,
        }))
        {
            await ConnectedAsync(expiring);
            await expiring.DisconnectAsync();
        }

        await using var publisher = new MqttClient(Options("kill-pub"));
        await ConnectedAsync(publisher);
        var load = new Load(publisher);
        var loadTask = load.RunAsync();

        try
        {
            for (var i = 0; i < kills; i++)
            {
                await Task.Delay(random.Next(0, 700));
                if (i == kills / 2)
                {
                    // Once a clean stop, as an upgrade would: SIGTERM, and the broker closes its clients.
                    await _broker!.SendSignalAsync("TERM");
                    Assert.Equal(0, await _broker.WaitForExitAsync(Timeout));
                }
                else
                {
                    await _broker!.DisposeAsync(); // SIGKILL
                }

                _broker = null;
                await StartBrokerAsync();
                await load.WaitForProgressAsync(Timeout);
            }
        }
        finally
        {
            await load.StopAsync();
            await loadTask.WaitAsync(Timeout);
        }

        var acknowledged = load.Acknowledged;
        Assert.True(acknowledged.Count > 0, "the publisher got no acknowledgement at all");

        // Everything acknowledged reaches the online subscriber, and the offline one once it connects.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        await online.WaitForAsync(acknowledged, Timeout);
        output.WriteLine($"online subscriber: waited {waited.Elapsed.TotalSeconds:0.0} s for {acknowledged.Count} messages");
        await using (var offlineClient = await ConnectAsync("kill-sub-offline", offline))
        {
            await offline.WaitForAsync(acknowledged, Timeout);
        }

        var lost = online.Missing(acknowledged).Count + offline.Missing(acknowledged).Count;
        var twice = online.DuplicatedQoS2(acknowledged).Concat(offline.DuplicatedQoS2(acknowledged)).ToList();
        output.WriteLine($"{kills} kills, {acknowledged.Count} messages acknowledged, lost: {online.Missing(acknowledged).Count} online and {offline.Missing(acknowledged).Count} offline, "
            + $"{twice.Count} QoS 2 delivered twice, QoS 1 duplicates: {online.QoS1Duplicates + offline.QoS1Duplicates}");
        Assert.True(lost == 0, $"seed {seed}: {lost} acknowledged messages lost, e.g. {string.Join(", ", online.Missing(acknowledged).Concat(offline.Missing(acknowledged)).Take(10))}");
        Assert.True(twice.Count == 0, $"seed {seed}: QoS 2 messages delivered twice: {string.Join(", ", twice.Take(10))}");

        // The last acknowledged retained message of each topic (or a later one) is there.
        await using var late = new MqttClient(new MqttClientOptions { Uri = Uri, ClientId = "kill-late" });
        var retained = new ConcurrentDictionary<string, long>();
        late.Data += (_, e) => retained[e.Message.Topic] = long.Parse(e.Message.PayloadText, CultureInfo.InvariantCulture);
        await ConnectedAsync(late);
        await SubscribeAsync(late, "kill/retained/#");
        foreach (var (topic, last) in load.LastRetained)
        {
            await WaitUntilAsync(() => retained.TryGetValue(topic, out var seen) && seen >= last, $"the retained message of {topic} (at least #{last})");
        }

        // The expiring session was not resumed.
        await using var again = new MqttClient(new MqttClientOptions
        {
            Uri = Uri,
            ClientId = "kill-expiring",
            CleanSession = false,
            ProtocolVersion = MqttProtocolVersion.V500,
            SessionExpiryInterval = 1,
        });
        var present = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        again.Connected += (_, e) => present.TrySetResult(e.SessionPresent);
        await again.StartAsync();
        Assert.False(await present.Task.WaitAsync(Timeout), "a session whose expiry passed was resumed");
    }

    private string Uri => $"mqtt://127.0.0.1:{_port}";

    private MqttClientOptions Options(string clientId) => new()
    {
        Uri = Uri,
        ClientId = clientId,
        CleanSession = false,
        ReconnectDelay = TimeSpan.FromMilliseconds(20),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        NetworkTimeout = TimeSpan.FromSeconds(5),
        OutboxLimit = 100_000,
    };

    private async Task StartBrokerAsync()
    {
        _broker = TernProcess.Start(
            ["start", "-p", _port.ToString(CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Broker:SysIntervalSeconds=0",
             // The offline subscriber holds everything published in the run: its queue bound is not what this tests.
             "--Broker:MaxQueuedMessages=10000000", "--Broker:MaxQueuedBytes=4000000000"],
            workingDirectory: _directory);
        await _broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);
    }

    private async Task<MqttClient> ConnectAsync(string clientId, Receiver receiver)
    {
        var client = new MqttClient(Options(clientId));
        client.Data += (_, e) => receiver.Add(e.Message);
        await ConnectedAsync(client);
        return client;
    }

    private static async Task ConnectedAsync(MqttClient client)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        if (client.State == MqttClientState.NotStarted)
        {
            await client.StartAsync();
        }
        else
        {
            await client.ReconnectAsync();
        }

        await connected.Task.WaitAsync(Timeout);
    }

    private static async Task SubscribeAsync(MqttClient client, string filter)
    {
        var result = await client.SubscribeAsync(filter, MqttQoS.ExactlyOnce).WaitAsync(Timeout);
        Assert.True(result.IsSuccess, result.ToString());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Messages received by one subscriber: how often each message number arrived.</summary>
    private sealed class Receiver
    {
        private readonly ConcurrentDictionary<long, int> _seen = new();
        private readonly SemaphoreSlim _arrived = new(0);

        public int QoS1Duplicates;

        public void Add(MqttMessage message)
        {
            var number = long.Parse(message.PayloadText, CultureInfo.InvariantCulture);
            if (_seen.AddOrUpdate(number, 1, (_, n) => n + 1) > 1 && message.QoS == MqttQoS.AtLeastOnce)
            {
                Interlocked.Increment(ref QoS1Duplicates);
            }

            _arrived.Release();
        }

        public List<long> Missing(IReadOnlyDictionary<long, MqttQoS> acknowledged) => acknowledged.Keys.Where(n => !_seen.ContainsKey(n)).Order().ToList();

        public List<long> DuplicatedQoS2(IReadOnlyDictionary<long, MqttQoS> acknowledged)
            => acknowledged.Where(a => a.Value == MqttQoS.ExactlyOnce && _seen.TryGetValue(a.Key, out var n) && n > 1).Select(a => a.Key).Order().ToList();

        public async Task WaitForAsync(IReadOnlyDictionary<long, MqttQoS> acknowledged, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (Missing(acknowledged).Count > 0)
            {
                try
                {
                    await _arrived.WaitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    return; // the caller reports what is missing
                }
            }
        }
    }

    /// <summary>
    /// The publisher: numbered messages on kill/data/1 (QoS 1) and kill/data/2 (QoS 2), 32 awaiting
    /// acknowledgement at a time, and every tenth a retained message on one of three topics.
    /// </summary>
    private sealed class Load(MqttClient publisher)
    {
        private const int Window = 32;
        private readonly ConcurrentDictionary<long, MqttQoS> _acknowledged = new();
        private readonly ConcurrentDictionary<string, long> _lastRetained = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly SemaphoreSlim _progress = new(0);

        public IReadOnlyDictionary<long, MqttQoS> Acknowledged => _acknowledged;

        public IReadOnlyDictionary<string, long> LastRetained => _lastRetained;

        public async Task RunAsync()
        {
            var window = new SemaphoreSlim(Window);
            var pending = new List<Task>();
            for (long n = 1; !_stop.IsCancellationRequested; n++)
            {
                try
                {
                    await window.WaitAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                pending.RemoveAll(t => t.IsCompleted);
                pending.Add(PublishAsync(n, window));
            }

            // What is still in flight completes once the broker acknowledges it (or never counts).
            await Task.WhenAll(pending).WaitAsync(Timeout);
        }

        public async Task WaitForProgressAsync(TimeSpan timeout)
        {
            // At least one acknowledgement from the new broker before the next kill.
            while (_progress.CurrentCount > 0)
            {
                await _progress.WaitAsync();
            }

            await _progress.WaitAsync(timeout);
        }

        public Task StopAsync() => _stop.CancelAsync();

        private async Task PublishAsync(long n, SemaphoreSlim window)
        {
            try
            {
                var qos = n % 2 == 0 ? MqttQoS.ExactlyOnce : MqttQoS.AtLeastOnce;
                var payload = n.ToString(CultureInfo.InvariantCulture);
                var result = await publisher.PublishAsync($"kill/data/{(int)qos}", payload, qos);
                if (result.IsSuccess)
                {
                    _acknowledged[n] = qos;
                    _progress.Release();
                }

                if (n % 10 == 0)
                {
                    var topic = $"kill/retained/{n / 10 % 3}";
                    if ((await publisher.PublishAsync(topic, payload, MqttQoS.AtLeastOnce, retain: true)).IsSuccess)
                    {
                        _lastRetained.AddOrUpdate(topic, n, (_, last) => Math.Max(last, n));
                    }
                }
            }
            finally
            {
                window.Release();
            }
        }
    }
}
