using System.Threading.Channels;
using Tern.Protocol;

namespace Tern.Client;

/// <summary>
/// MQTT client modelled on esp-mqtt: <see cref="StartAsync"/> connects in the background and keeps
/// the connection (reconnect with backoff, keep alive, resubscribe); Publish/Subscribe only enqueue
/// and return the message id; outcomes arrive as events, raised in order on one dispatcher task.
/// Thread-safe. Lock order: <c>_gate</c> only (no other lock is taken while holding it).
/// </summary>
public sealed partial class MqttClient : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Outbox _outbox = new();
    private readonly PacketIdAllocator _ids = new();
    private readonly Dictionary<ushort, PendingRequest> _pending = [];
    private readonly Dictionary<string, (TopicSubscription Subscription, MqttProperties? Properties)> _subscriptions = new(StringComparer.Ordinal);
    private readonly HashSet<ushort> _inboundQoS2 = [];
    private readonly EventDispatcher _events;
    private readonly string _generatedClientId = "tern-" + Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()));
    private Channel<MqttMessage>? _messages;
    private Connection? _connection;
    private volatile MqttClientState _state;
    private CancellationTokenSource? _runCts;
    private Task _runTask = Task.CompletedTask;
    private TaskCompletionSource _reconnectNow = NewSignal();
    private bool _holdDisconnected;
    private bool _disposed;

    public MqttClient(MqttClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _events = new EventDispatcher(Raise);
    }

    /// <summary>The configuration; read at every connect attempt.</summary>
    public MqttClientOptions Options { get; }

    public MqttClientState State => _state;

    /// <summary>The client id used on the wire (generated when <see cref="MqttClientOptions.ClientId"/> is null).</summary>
    public string ClientId => Options.ClientId ?? _generatedClientId;

    /// <summary>Messages in the outbox (esp-mqtt reports bytes: see <see cref="OutboxSize"/>).</summary>
    public int OutboxCount
    {
        get { lock (_gate) { return _outbox.Count; } }
    }

    /// <summary>Approximate bytes (topic + payload) in the outbox (esp-mqtt <c>esp_mqtt_client_get_outbox_size</c>).</summary>
    public long OutboxSize
    {
        get { lock (_gate) { return _outbox.Size; } }
    }

    /// <summary>Starts connecting in the background; returns at once. Idempotent while started.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        BrokerEndpoint.Resolve(Options); // fail fast on a bad URI, as esp_mqtt_client_start does
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_runCts is not null)
            {
                return Task.CompletedTask;
            }

            _runCts = new CancellationTokenSource();
            _holdDisconnected = false;
            _state = MqttClientState.Disconnected;
            var token = _runCts.Token;
            _runTask = Task.Run(() => RunAsync(token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Sends DISCONNECT if connected and stops. No event is raised and the outbox is emptied (as
    /// esp_mqtt_client_stop); pending awaitables fail with <see cref="MqttClientException"/>.
    /// </summary>
    public async Task StopAsync()
    {
        CancellationTokenSource? cts;
        Connection? connection;
        lock (_gate)
        {
            cts = _runCts;
            _runCts = null;
            connection = _connection;
        }

        if (cts is null)
        {
            return;
        }

        await cts.CancelAsync().ConfigureAwait(false);
        if (connection is not null)
        {
            await CloseGracefullyAsync(connection).ConfigureAwait(false);
        }

        await _runTask.ConfigureAwait(false);
        cts.Dispose();
        List<OutboxItem> dropped;
        lock (_gate)
        {
            dropped = _outbox.TakeAll();
            foreach (var item in dropped)
            {
                _ids.Release(item.PacketId);
            }

            _state = MqttClientState.NotStarted;
        }

        foreach (var item in dropped)
        {
            item.Completion?.TrySetException(new MqttClientException("The client was stopped before the message was acknowledged."));
        }
    }

    /// <summary>
    /// Sends DISCONNECT and closes; raises <see cref="Disconnected"/>. The client stays disconnected
    /// (the outbox is kept) until <see cref="ReconnectAsync"/>.
    /// </summary>
    public async Task DisconnectAsync()
    {
        Connection? connection;
        lock (_gate)
        {
            _holdDisconnected = true;
            connection = _connection;
            if (connection is null && _state == MqttClientState.WaitingReconnect)
            {
                _state = MqttClientState.Disconnected;
            }
        }

        if (connection is not null)
        {
            await CloseGracefullyAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Connects now: skips the backoff wait, or resumes after <see cref="DisconnectAsync"/>.
    /// Returns false when not started or already connected (esp_mqtt_client_reconnect fails then too).
    /// </summary>
    public Task<bool> ReconnectAsync()
    {
        lock (_gate)
        {
            if (_runCts is null || _state == MqttClientState.Connected)
            {
                return Task.FromResult(false);
            }

            _holdDisconnected = false;
            _reconnectNow.TrySetResult();
        }

        return Task.FromResult(true);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _disposed = true;
            _messages?.Writer.TryComplete();
        }

        await _events.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Test hook: drops the socket without DISCONNECT, as a crash or a pulled cable would.</summary>
    internal void AbortTransportForTest()
    {
        Connection? connection;
        lock (_gate)
        {
            connection = _connection;
        }

        connection?.Abort();
    }

    private async Task CloseGracefullyAsync(Connection connection)
    {
        connection.ClientInitiatedClose = true;
        connection.Enqueue(new SendItem(DisconnectPacket.Normal));
        try
        {
            await connection.Finished.Task.WaitAsync(Options.NetworkTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            connection.Abort();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
