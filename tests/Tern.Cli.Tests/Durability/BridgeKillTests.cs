using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tern.Client;
using Tern.Protocol;
using Tern.Server.Tests;
using Tern.TestKit;

namespace Tern.Cli.Tests.Durability;

/// <summary>
/// A bridge's queue in the store: <c>tern start</c> runs as a child process with a bridge to a
/// Mosquitto that is down, takes QoS 1 messages for it, and is killed with SIGKILL. Started again on
/// the same directory, it sends every one of them once Mosquitto is back, each once, in order per topic.
/// </summary>
public sealed class BridgeKillTests : IAsyncLifetime
{
    private const int Count = 300;
    private const int Topics = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-bridge-kill-").FullName;
    private readonly int _port = Net.FreePort();
    private readonly Lock _gate = new();
    private readonly List<(string Topic, string Payload)> _received = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TernProcess? _broker;
    private MosquittoRemote? _mosquitto;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        if (_mosquitto is not null)
        {
            await _mosquitto.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public Task Qos1_messages_for_a_remote_that_is_down_survive_kill_9_and_all_arrive_once_it_is_back()
        => RunAsync(remoteTakesWithoutAcknowledging: false);

    [Fact]
    public Task Qos1_messages_a_remote_took_without_acknowledging_are_sent_again_after_kill_9()
        => RunAsync(remoteTakesWithoutAcknowledging: true);

    /// <summary>
    /// With <paramref name="remoteTakesWithoutAcknowledging"/>, a listener on the remote's port takes
    /// the bridge's connection and every PUBLISH, and acknowledges none: each was sent, and none may
    /// leave Tern's store.
    /// </summary>
    private async Task RunAsync(bool remoteTakesWithoutAcknowledging)
    {
        // The remote's subscriber keeps a persistent session there: what arrives while it reconnects waits for it.
        _mosquitto = await MosquittoRemote.StartAsync();
        await using var watcher = new MqttClient(new MqttClientOptions
        {
            Host = "127.0.0.1",
            Port = _mosquitto.Port,
            ClientId = "bridge-kill-watcher",
            CleanSession = false,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        });
        watcher.Data += (_, e) =>
        {
            lock (_gate)
            {
                _received.Add((e.Message.Topic, Encoding.UTF8.GetString(e.Message.Payload.Span)));
                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        };
        await ConnectedAsync(watcher);
        Assert.True((await watcher.SubscribeAsync("site/#", MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
        await _mosquitto.StopAsync();
        using var silent = remoteTakesWithoutAcknowledging ? SilentRemote.Start(_mosquitto.Port) : null;

        // Every message acknowledged by Tern while the remote is down (or silent), then SIGKILL.
        await StartBrokerAsync();
        var expected = new List<(string Topic, string Payload)>();
        await using (var publisher = new MqttClient(new MqttClientOptions { Host = "127.0.0.1", Port = _port, ClientId = "bridge-kill-pub", OutboxLimit = Count }))
        {
            await ConnectedAsync(publisher);
            var acks = new List<Task<PublishResult>>();
            for (var i = 0; i < Count; i++)
            {
                var topic = $"data/{i % Topics}";
                acks.Add(publisher.PublishAsync(topic, i.ToString(CultureInfo.InvariantCulture), MqttQoS.AtLeastOnce));
                expected.Add(("site/" + topic, i.ToString(CultureInfo.InvariantCulture)));
            }

            foreach (var result in await Task.WhenAll(acks).WaitAsync(Timeout))
            {
                Assert.Equal(ReasonCode.Success, result.ReasonCode);
            }
        }

        if (silent is not null)
        {
            // The bridge sends up to 256 unacknowledged messages (docs/bridges.md); the rest stay queued.
            await silent.WaitForPublishesAsync(Math.Min(Count, 256), Timeout);
        }

        await _broker!.DisposeAsync(); // SIGKILL
        _broker = null;
        silent?.Dispose();
        await StartBrokerAsync();
        await _mosquitto.RestartAsync();
        await WaitForAsync(r => r.Count >= Count, $"{Count} messages at the remote");

        // A fence per topic: the bridge forwards in the order it queued, so once the fences are there,
        // any second copy of an earlier message would be there too.
        await using (var publisher = new MqttClient(new MqttClientOptions { Host = "127.0.0.1", Port = _port, ClientId = "bridge-kill-fence" }))
        {
            await ConnectedAsync(publisher);
            for (var t = 0; t < Topics; t++)
            {
                await publisher.PublishAsync($"data/{t}", "fence", MqttQoS.AtLeastOnce).WaitAsync(Timeout);
                expected.Add(($"site/data/{t}", "fence"));
            }
        }

        await WaitForAsync(r => r.Count(m => m.Payload == "fence") == Topics, "the fences");
        List<(string Topic, string Payload)> received;
        lock (_gate)
        {
            received = [.. _received];
        }

        for (var t = 0; t < Topics; t++)
        {
            var topic = $"site/data/{t}";
            Assert.Equal(
                expected.Where(m => m.Topic == topic).Select(m => m.Payload).ToList(),
                received.Where(m => m.Topic == topic).Select(m => m.Payload).ToList());
        }
    }

    private async Task StartBrokerAsync()
    {
        _broker = TernProcess.Start(
            ["start", "-p", _port.ToString(CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Broker:SysIntervalSeconds=0",
             "--Bridges:0:Name=cloud", $"--Bridges:0:Address=127.0.0.1:{_mosquitto!.Port.ToString(CultureInfo.InvariantCulture)}", "--Bridges:0:ClientId=tern-kill-bridge",
             "--Bridges:0:ReconnectMinSeconds=0.1", "--Bridges:0:ReconnectMaxSeconds=0.5",
             "--Bridges:0:Topics:0:Pattern=data/#", "--Bridges:0:Topics:0:Direction=out", "--Bridges:0:Topics:0:QoS=1", "--Bridges:0:Topics:0:RemotePrefix=site/"],
            workingDirectory: _directory);
        await _broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);
    }

    private static async Task ConnectedAsync(MqttClient client)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        await client.StartAsync();
        await connected.Task.WaitAsync(Timeout);
    }

    private async Task WaitForAsync(Func<List<(string Topic, string Payload)>, bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (condition(_received))
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                int count;
                lock (_gate)
                {
                    count = _received.Count;
                }

                Assert.Fail($"Within {Timeout.TotalSeconds:0} s: {what}; {count} received.\nTern:\n{_broker?.Stdout}\nMosquitto:\n{_mosquitto?.Log}");
            }
        }
    }

    /// <summary>A "broker" that answers CONNECT and then only reads: it counts PUBLISH packets and acknowledges nothing.</summary>
    private sealed class SilentRemote : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private int _publishes;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private SilentRemote(int port)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            _ = AcceptAsync();
        }

        public static SilentRemote Start(int port) => new(port);

        public async Task WaitForPublishesAsync(int count, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                var changed = Volatile.Read(ref _changed).Task;
                if (Volatile.Read(ref _publishes) >= count)
                {
                    return;
                }

                try
                {
                    await changed.WaitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"Within {timeout.TotalSeconds:0} s: {count} PUBLISH packets at the silent remote; {_publishes} came.");
                }
            }
        }

        public void Dispose()
        {
            // Twice: when the test moves from it to Mosquitto, and at the end.
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _stop.Cancel();
            _listener.Stop();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = ServeAsync(client);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            try
            {
                while (true)
                {
                    var header = await ReadByteAsync(stream);
                    var length = 0;
                    for (var shift = 0; ; shift += 7)
                    {
                        var b = await ReadByteAsync(stream);
                        length |= (b & 0x7F) << shift;
                        if ((b & 0x80) == 0)
                        {
                            break;
                        }
                    }

                    await stream.ReadExactlyAsync(new byte[length], _stop.Token);
                    switch (header >> 4)
                    {
                        case 1: // CONNECT: accepted, no session present
                            await stream.WriteAsync(new byte[] { 0x20, 0x02, 0x00, 0x00 }, _stop.Token);
                            break;
                        case 3: // PUBLISH: counted, never acknowledged
                            Interlocked.Increment(ref _publishes);
                            Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                            break;
                        case 12: // PINGREQ
                            await stream.WriteAsync(new byte[] { 0xD0, 0x00 }, _stop.Token);
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or EndOfStreamException or ObjectDisposedException)
            {
                // The bridge went away (killed), or the test is done.
            }
        }

        private async Task<int> ReadByteAsync(NetworkStream stream)
        {
            var one = new byte[1];
            await stream.ReadExactlyAsync(one, _stop.Token);
            return one[0];
        }
    }
}
