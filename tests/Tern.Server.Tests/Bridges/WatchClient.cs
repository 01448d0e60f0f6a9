using System.Text;
using Tern.Client;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests.Bridges;

/// <summary>A Tern.Client connection that records every message it receives, for the bridge tests.</summary>
internal sealed class WatchClient : IAsyncDisposable
{
    private readonly MqttClient _client;
    private readonly List<(string Topic, string Payload)> _received = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WatchClient(MqttClient client)
    {
        _client = client;
        _client.Connected += (_, _) => _connected.TrySetResult();
        _client.Disconnected += (_, _) =>
        {
            lock (_gate)
            {
                _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        };
        _client.Data += (_, e) =>
        {
            if (e.CurrentDataOffset != 0)
            {
                return;
            }

            lock (_gate)
            {
                _received.Add((e.Message.Topic, Encoding.UTF8.GetString(e.Message.Payload.Span)));
                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        };
    }

    public MqttClient Client => _client;

    public List<(string Topic, string Payload)> Received
    {
        get { lock (_gate) { return [.. _received]; } }
    }

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> and subscribes to <paramref name="filter"/> (QoS 1).</summary>
    public static async Task<WatchClient> StartAsync(int port, string filter, string? clientId = null, bool cleanSession = true)
    {
        var watch = new WatchClient(new MqttClient(new MqttClientOptions
        {
            Host = "127.0.0.1",
            Port = port,
            ClientId = clientId,
            CleanSession = cleanSession,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        }));
        await watch._client.StartAsync();
        await watch.WaitConnectedAsync();
        var result = await watch._client.SubscribeAsync(filter, MqttQoS.AtLeastOnce).WaitAsync(TestTimeouts.Receive);
        Assert.True(result.Items[0].GrantedQoS == MqttQoS.AtLeastOnce, $"SUBACK for {filter}: {result}");
        return watch;
    }

    public Task WaitConnectedAsync()
    {
        lock (_gate)
        {
            return _connected.Task.WaitAsync(TestTimeouts.External);
        }
    }

    /// <summary>Publishes at QoS 1 and waits for the PUBACK.</summary>
    public async Task PublishAsync(string topic, string payload)
    {
        var result = await _client.PublishAsync(topic, Encoding.UTF8.GetBytes(payload), MqttQoS.AtLeastOnce).WaitAsync(TestTimeouts.Receive);
        Assert.Equal(ReasonCode.Success, result.ReasonCode);
    }

    /// <summary>Waits until what was received satisfies <paramref name="condition"/>; fails naming <paramref name="what"/> and what came.</summary>
    public async Task WaitForAsync(Func<List<(string Topic, string Payload)>, bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.External;
        using var cts = new CancellationTokenSource(limit);
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
                Assert.Fail($"Within {limit.TotalSeconds:0.#} s: {what}. Received: {string.Join(", ", Received.Select(m => $"{m.Topic}={m.Payload}"))}");
            }
        }
    }

    public Task WaitForAsync(string topic, string payload)
        => WaitForAsync(r => r.Contains((topic, payload)), $"{topic}={payload}");

    public async ValueTask DisposeAsync() => await _client.DisposeAsync();
}
