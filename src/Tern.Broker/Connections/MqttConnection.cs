using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// One client connection: a read loop that frames, decodes and handles every complete packet of a
/// read (fanning PUBLISHes out on this thread), and one writer that drains the outbound queue into
/// the transport with one flush per batch; after a read, the writers it fed run inline on the
/// reading thread (see <see cref="OutboundQueue"/>).
/// </summary>
internal sealed partial class MqttConnection
{
    // Control packets are answers to this client's own requests; a client that keeps sending
    // without reading them is cut off instead of growing the queue.
    private const int MaxPendingControlPackets = 10_000;

    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);

    private readonly MqttBroker _broker;
    private readonly IDuplexPipe _transport;
    private readonly MqttConnectionInfo _info;
    private readonly ILogger _logger;
    private readonly OutboundQueue _outbound;
    private readonly long _openedAt;

    // The writer starts once the read loop waits for data. From then on the read loop runs
    // inline on the transport's receive, so whatever a client sends in answer to our first
    // packet (CONNACK) is read before the transport can see that client reset the connection.
    private Task? _writer;

    // The admission to release when the connection ends (ConnectionLimiter).
    private readonly IPAddress? _admittedAddress;
    private int _qos0Backlog;
    private int _controlBacklog;
    private int _closeRequested;
    private string? _closeReason;
    private bool _publishWill = true;
    private long _lastActivity;

    // The broker's clock (ms) since when a flush waits for the socket to take data, 0 when none does.
    private long _flushStalledSince;

    // The broker's clock (ms) since when a packet is incomplete in the input, 0 when none is.
    private long _partialSince;
    private readonly ReadThrottle? _throttle;
    private bool _connectReceived;

    // The broker told the client why it closes (DISCONNECT, refusing CONNACK): see LingerAsync.
    private bool _lingerOnClose;
    private WillMessage? _will;
    private MqttSession? _session;

    // MQTT 5 limits the client announced in CONNECT.
    private int _clientMaximumPacketSize = int.MaxValue;
    private int _clientTopicAliasMaximum;
    private bool _requestProblemInformation = true;
    private Dictionary<ushort, string>? _inboundAliases;
    private Dictionary<string, ushort>? _outboundAliases;

    // Counted by the read loop / the writer only; folded into BrokerStatistics at close.
    private long _messagesReceived;
    private long _bytesReceived;
    private long _messagesSent;
    private long _bytesSent;
    private QoSCounts _messagesReceivedByQoS;
    private QoSCounts _messagesSentByQoS;

    public MqttConnection(MqttBroker broker, IDuplexPipe transport, MqttConnectionInfo info, IPAddress? admittedAddress = null)
    {
        _broker = broker;
        _transport = transport;
        _info = info;
        _admittedAddress = admittedAddress;
        _logger = broker.ConnectionLogger;
        _openedAt = broker.NowMs;
        _throttle = ReadThrottle.Create(broker.Options, broker.Time);
        _lastActivity = _openedAt;
        _outbound = new OutboundQueue(this);
    }

    public string ClientId { get; private set; } = "";

    public MqttProtocolVersion Version { get; private set; } = MqttProtocolVersion.V311;

    /// <summary>CONNECT carried the bridge bit (protocol level 0x83/0x84, <see cref="ConnectPacket.IsBridge"/>).</summary>
    public bool IsBridge { get; private set; }

    /// <summary>CONNECT was accepted.</summary>
    public bool IsConnected { get; private set; }

    /// <summary>The user an enhanced authentication method vouched for.</summary>
    public string? AuthenticatedUser { get; private set; }

    /// <summary>The user name the client is known as (ACL <c>%u</c>), after authentication.</summary>
    public string? Username { get; private set; }

    public ushort KeepAlive { get; private set; }

    /// <summary>The will of this connection, until it is published or discarded (stored with a persistent session).</summary>
    internal WillMessage? Will => _will;

    /// <summary>The CONNECT's clean start (MQTT 3.1.1: clean session) flag, for the admin views.</summary>
    public bool CleanStart { get; private set; }

    public string? RemoteEndPoint => _info.RemoteEndPoint?.ToString();

    public long MessagesReceived => Volatile.Read(ref _messagesReceived);

    public long MessagesSent => Volatile.Read(ref _messagesSent);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>PUBLISH packets received at QoS <paramref name="qos"/> (0 to 2).</summary>
    public long MessagesReceivedAt(int qos) => Volatile.Read(ref _messagesReceivedByQoS[qos]);

    /// <summary>PUBLISH packets sent at QoS <paramref name="qos"/> (0 to 2).</summary>
    public long MessagesSentAt(int qos) => Volatile.Read(ref _messagesSentByQoS[qos]);

    private string LogName => ClientId.Length > 0 ? ClientId : $"<{_info.ConnectionId}>";

    /// <summary>Runs the connection until it ends; completes after it is closed and unregistered.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
        => cancellationToken.CanBeCanceled ? RunUntilCanceledAsync(cancellationToken) : ReadLoopAsync(CancellationToken.None);

    /// <summary>
    /// A token that can abort the connection (an embedder's; Tern's transports pass none): its
    /// registration lives in a frame of its own, not in the read loop's that every idle connection keeps.
    /// </summary>
    private async Task RunUntilCanceledAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(static state => ((MqttConnection)state!).Close("connection aborted", publishWill: true), this);
        await ReadLoopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the connection to close from another thread (takeover, keep-alive, shutdown).
    /// MQTT 5 clients get a DISCONNECT with <paramref name="reasonCode"/> first.
    /// </summary>
    public void Close(string reason, bool publishWill, ReasonCode? reasonCode = null)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0)
        {
            return;
        }

        _closeReason = reason;
        _publishWill = publishWill;
        if (reasonCode is { } code && Version == MqttProtocolVersion.V500 && IsConnected)
        {
            _outbound.TryAdd(OutboundItem.Packet(Disconnect(code, reason)));
            _lingerOnClose = true;
        }

        _transport.Input.CancelPendingRead();
    }

    /// <summary>The writer has waited on the socket since this time (broker clock, ms), or 0.</summary>
    internal long FlushStalledSince => Volatile.Read(ref _flushStalledSince);

    /// <summary>Called by the broker's timer: closes a connection past its CONNECT, keep-alive or write deadline.</summary>
    public void CheckTimeouts(long now, long connectTimeoutMs, long incompleteTimeoutMs, long writeTimeoutMs)
    {
        if (Volatile.Read(ref _closeRequested) != 0)
        {
            // Closing already (it can take a moment for a writer stuck on its socket): decided once.
            return;
        }

        ReleaseHeldAcknowledgements(now, _broker.MaxAckHoldMs);
        var stalledSince = Volatile.Read(ref _flushStalledSince);
        if (writeTimeoutMs > 0 && stalledSince != 0 && now - stalledSince > writeTimeoutMs)
        {
            // A subscriber that stopped reading: its queue would only grow (and hold up its publishers).
            _broker.Statistics.SlowConsumerClosed();
            Log.SlowConsumer(_logger, LogName, RemoteEndPoint, writeTimeoutMs / 1000.0);
            Close($"slow consumer: the socket took nothing for {writeTimeoutMs / 1000.0:0.###} s", publishWill: true);
            return;
        }

        var partialSince = Volatile.Read(ref _partialSince);
        if (incompleteTimeoutMs > 0 && partialSince != 0 && now - partialSince > incompleteTimeoutMs)
        {
            // Slowloris: a packet trickling in (or stalled) half-way holds a buffer; give up on it.
            Close($"packet incomplete for more than {incompleteTimeoutMs} ms", publishWill: true, ReasonCode.ImplementationSpecificError);
            return;
        }

        if (!IsConnected)
        {
            if (now - _openedAt > connectTimeoutMs)
            {
                Close($"no CONNECT within {connectTimeoutMs} ms", publishWill: false);
            }

            return;
        }

        // A writer idle for a tick returns; the next packet starts one (no frame at rest).
        _outbound.TryPark();

        // [MQTT-3.1.2-24] one and a half times the keep alive without a control packet.
        if (KeepAlive > 0 && now - Volatile.Read(ref _lastActivity) > KeepAlive * 1500L)
        {
            Close("keep alive timeout", publishWill: true, ReasonCode.KeepAliveTimeout);
        }
    }

    /// <summary>Queues a control packet; never dropped.</summary>
    public void SendControl(MqttPacket packet)
    {
        if (Interlocked.Increment(ref _controlBacklog) > MaxPendingControlPackets)
        {
            Close("client is not reading its acknowledgements", publishWill: true, ReasonCode.QuotaExceeded);
            return;
        }

        _outbound.TryAdd(OutboundItem.Packet(packet));
    }

    /// <summary>Queues a QoS 1/2 PUBLISH; the session's in-flight window bounds these.</summary>
    public void SendPublish(in Delivery delivery, ushort packetId, bool dup)
        => _outbound.TryAdd(OutboundItem.Publish(delivery.Message, delivery.QoS, delivery.Retain, packetId, dup, delivery.SubscriptionIds));

    /// <summary>Queues a QoS 0 PUBLISH, or drops it (counted) when this client is too far behind and <paramref name="bounded"/>.</summary>
    public void SendQoS0(in Delivery delivery, bool bounded = true)
    {
        if ((Interlocked.Increment(ref _qos0Backlog) > _broker.Options.MaxQueuedQoS0Messages && bounded)
            || !_outbound.TryAdd(OutboundItem.Publish(delivery.Message, MqttQoS.AtMostOnce, delivery.Retain, 0, false, delivery.SubscriptionIds)))
        {
            Interlocked.Decrement(ref _qos0Backlog);
            _broker.Dropped(DropReason.QoS0QueueFull, _session);
        }
    }

    /// <summary>
    /// An exception nobody expected (a defect, or a throwing authenticator or authorizer): logged with
    /// its stack, counted, and the connection closed (MQTT 5: DISCONNECT 0x80 first when it can still be sent).
    /// </summary>
    private void OnInternalError(Exception exception, string where)
    {
        _broker.Statistics.InternalError();
        Log.UnexpectedError(_logger, exception, LogName, where);
        _closeReason ??= $"internal error in the {where}: {exception.GetType().Name}: {exception.Message}";
        _publishWill = true;
        if (Version == MqttProtocolVersion.V500 && IsConnected && where != "writer")
        {
            _outbound.TryAdd(OutboundItem.Packet(Disconnect(ReasonCode.UnspecifiedError, "internal error")));
            _lingerOnClose = true;
        }

        if (Interlocked.Exchange(ref _closeRequested, 1) == 0 && where == "writer")
        {
            AbortTransport();
        }

        _transport.Input.CancelPendingRead();
    }

    private void OnProtocolViolation(string reason, ReasonCode code)
    {
        _broker.Statistics.ProtocolError();
        Log.ProtocolViolation(_logger, LogName, RemoteEndPoint, reason, (byte)code);
        _closeReason = "protocol violation: " + reason;
        _publishWill = true;
        if (!IsConnected && code == ReasonCode.UnsupportedProtocolVersion)
        {
            // [MQTT-3.1.2-2] CONNACK 0x01 (unacceptable protocol level), then close.
            SendControl(new ConnAckPacket { ReasonCode = (byte)ConnectReturnCode.UnacceptableProtocolVersion });
            _lingerOnClose = true;
        }
        else if (Version == MqttProtocolVersion.V500 && IsConnected)
        {
            _outbound.TryAdd(OutboundItem.Packet(Disconnect(code, reason)));
            _lingerOnClose = true;
        }
    }

    /// <summary>
    /// After a DISCONNECT or refusing CONNACK: half-close, then read and discard what the client
    /// still sends until it closes (bounded). Closing at once with unread input would reset the
    /// connection, and a client still sending could lose the packet that says why.
    /// </summary>
    private async Task LingerAsync()
    {
        try
        {
            if (_info.Control is { } control)
            {
                control.ShutdownSend();
            }
            else
            {
                _info.ShutdownSend?.Invoke();
            }
            using var timeout = new CancellationTokenSource(LingerTime);
            var input = _transport.Input;
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            // Timed out, or the transport is gone: either way the connection ends now.
        }
    }

    /// <summary>A server DISCONNECT; the reason string is always allowed on DISCONNECT.</summary>
    private static DisconnectPacket Disconnect(ReasonCode code, string reason)
        => new() { ReasonCode = code, Properties = new MqttProperties { ReasonString = reason } };

    private Task StartWriter() => _writer ??= WriteLoopAsync();

    /// <summary>The writer returned after a tick with nothing to send; the next packet starts one.</summary>
    internal bool WriterParked => _outbound.IsParked;

    /// <summary>Called by <see cref="OutboundQueue.TryPark"/> under its lock: the parked writer's task is not kept.</summary>
    internal void OnWriterParked() => Volatile.Write(ref _writer, Task.CompletedTask);

    /// <summary>A new writer for a parked one; called by <see cref="OutboundQueue"/> under its lock.</summary>
    internal void RestartWriter() => Volatile.Write(ref _writer, WriteLoopAsync());

    private void AbortTransport()
    {
        if (_info.Control is { } control)
        {
            control.Abort();
        }
        else
        {
            _info.Abort?.Invoke();
        }
    }

    private async Task CloseAsync()
    {
        _ = StartWriter();
        _outbound.Complete();

        // Read after Complete: a parked writer was replaced by one that drains the queue.
        var writer = Volatile.Read(ref _writer)!;

        // Let the writer send what is queued (a CONNACK refusal, a DISCONNECT), but never wait long
        // on a client that does not read.
        try
        {
            await writer.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _transport.Output.CancelPendingFlush();
            AbortTransport();
        }

        await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_lingerOnClose && writer.IsCompletedSuccessfully && !_broker.IsStopping)
        {
            await LingerAsync().ConfigureAwait(false);
        }

        _broker.Statistics.AddClosed(_messagesReceived, _messagesSent, _bytesReceived, _bytesSent);
        _broker.Statistics.AddClosedByQoS(_messagesReceivedByQoS, _messagesSentByQoS);
        if (_session is { } session)
        {
            var reason = _closeReason ?? "connection closed by client";
            Log.ClientDisconnected(_logger, ClientId, reason);
            _broker.OnSessionDisconnected(session, this, _publishWill ? _will : null);
        }
        else if (_closeReason is not null)
        {
            Log.ConnectionClosed(_logger, LogName, _closeReason);
        }

        // Listed until its session is settled: whoever sees it gone sees the session's new state.
        _broker.Unregister(this);
        _broker.Limiter.Release(_admittedAddress);
    }
}
