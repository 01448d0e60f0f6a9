using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Server.Bridges;

/// <summary>
/// One bridge: a Tern.Client connection to the remote broker. Out rules take local messages in one
/// of two ways. With a store, from an in-process session of the broker (<c>$bridge/&lt;name&gt;</c>)
/// whose queue the store keeps: while the remote is connected the bridge takes up to
/// <see cref="Window"/> messages into the client's outbox and completes each in the session only
/// when the remote acknowledged it, so a restart or a kill -9 loses nothing. Without a store, as an
/// in-process subscriber straight into the client's outbox (in memory). Either way the queue holds
/// at most <c>MaxQueued</c>. In rules subscribe on the remote and publish what arrives into the
/// local broker before the client acknowledges it to the remote. Unless notifications are off, the
/// bridge's state (<c>1</c> connected, <c>0</c> not) is retained on its notification topic here and,
/// unless local only, on the remote, where the will in its CONNECT turns it to <c>0</c> when the link dies.
/// </summary>
internal sealed class Bridge : IInProcessSubscriber, IAsyncDisposable
{
    // Messages taken from the session and handed to the client, not yet acknowledged by the remote:
    // enough to fill a remote's receive window, few enough that the store holds the rest.
    private const int Window = 256;

    // How long a bridge that stops waits to tell the remote it is going (its will only covers a link that dies).
    private static readonly TimeSpan StateNoticeTimeout = TimeSpan.FromSeconds(2);

    private static readonly byte[] Up = "1"u8.ToArray();
    private static readonly byte[] Down = "0"u8.ToArray();

    private readonly BridgeOptions _options;
    private readonly MqttBroker _broker;
    private readonly ILogger _logger;
    private readonly BridgeTopicOptions[] _out;
    private readonly BridgeTopicOptions[] _in;
    private readonly MqttClient _client;
    private IDisposable? _subscription;
    private int _subscribed;
    private long _sent;
    private long _received;
    private long _dropped;
    private string? _lastError;
    // UTC ticks of the current connection, 0 while down (a long: read without tearing). Set by the
    // Connected event, and the only source of "connected" in Status: the client's own state turns
    // Connected before that event runs.
    private long _connectedAtTicks;
    private readonly string? _stateTopic; // null: notifications off
    private readonly bool _stateOnRemote;
    private int _stateMessageId; // the remote "1" until its PUBACK: not a forwarded message, so not counted
    private volatile bool _remoteRetain = true;
    private InProcessSession? _session;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pump;
    private int _handed;
    private volatile bool _stopped;

    public Bridge(BridgeOptions options, MqttBroker broker, ILogger logger)
    {
        _options = options;
        _broker = broker;
        _logger = logger;
        _out = options.Topics.Where(t => t.Out).ToArray();
        _in = options.Topics.Where(t => t.In).ToArray();
        Origin = "$bridge/" + options.Name;
        Filters = _out.Select(t => t.LocalFilter).Distinct(StringComparer.Ordinal).ToArray();
        var clientOptions = ClientOptions(options);
        if (_in.Length > 0)
        {
            clientOptions.BeforeAcknowledge = ForwardInbound;
        }

        _stateTopic = options.EffectiveNotificationTopic;
        _stateOnRemote = _stateTopic is not null && !options.NotificationsLocalOnly;
        _client = new MqttClient(clientOptions);
        _client.Connected += OnConnected;
        _client.Disconnected += OnDisconnected;
        _client.Error += (_, e) => _lastError = e.Message;
        _client.Published += OnPublished;
        _client.Subscribed += (_, e) =>
        {
            if (e.ReasonCodes.Any(code => code >= 0x80))
            {
                _lastError = $"the remote refused a subscription ({string.Join(", ", e.ReasonCodes.Select(c => $"0x{c:x2}"))})";
                BridgeLog.SubscribeRefused(_logger, Name, _lastError);
            }

            Volatile.Write(ref _subscribed, 2);
        };
    }

    public string Name => _options.Name!;

    public IReadOnlyList<string> Filters { get; }

    public string Origin { get; }

    public async Task StartAsync()
    {
        if (_out.Length > 0 && _broker.GetStoreSnapshot() is not null)
        {
            _session = _broker.OpenInProcessSession(Origin, SessionSubscriptions(), _options.MaxQueued, DropReason.BridgeQueueFull, Wake);
            _pump = Task.Run(PumpAsync);
        }
        else if (_out.Length > 0)
        {
            _subscription = _broker.AddInProcessSubscriber(this);
        }

        PublishState(connected: false);
        await _client.StartAsync().ConfigureAwait(false);
        var (host, port) = _options.Endpoint;
        BridgeLog.Started(_logger, Name, host, port, _out.Length, _in.Length);
    }

    public BridgeStatus Status()
    {
        var (host, port) = _options.Endpoint;
        // Connected, its time and the state all come from _connectedAtTicks: never connected without a time.
        var ticks = _stopped ? 0 : Interlocked.Read(ref _connectedAtTicks);
        var outbox = _client.OutboxCount - (Volatile.Read(ref _stateMessageId) != 0 ? 1 : 0);
        return new BridgeStatus(
            Name,
            $"{host}:{port}",
            _options.Version == MqttProtocolVersion.V500 ? "5" : "3.1.1",
            _client.ClientId,
            ticks != 0,
            ticks != 0 ? "connected"
                : _stopped ? "stopped"
                : _client.State switch
                {
                    MqttClientState.WaitingReconnect => "waiting_reconnect",
                    MqttClientState.NotStarted => "stopped",
                    _ => "connecting",
                },
            _in.Length == 0 || Volatile.Read(ref _subscribed) == 2,
            ticks != 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null,
            _session?.Count ?? Math.Max(0, outbox),
            _options.MaxQueued,
            Interlocked.Read(ref _sent),
            Interlocked.Read(ref _received),
            Interlocked.Read(ref _dropped) + (_session?.Dropped ?? 0),
            _lastError);
    }

    /// <summary>A local message for the remote: on the publisher's thread, so it only enqueues.</summary>
    public void OnMessage(InProcessMessage message)
    {
        foreach (var rule in _out)
        {
            if (!message.Topic.StartsWith(rule.LocalPrefix, StringComparison.Ordinal) || !MqttTopic.Matches(rule.LocalFilter, message.Topic))
            {
                continue;
            }

            var remoteTopic = rule.ToRemote(message.Topic);
            if (remoteTopic.Length == 0)
            {
                continue;
            }

            var qos = (MqttQoS)Math.Min((int)message.QoS, rule.QoS);
            var id = _client.Enqueue(remoteTopic, message.Payload, qos, message.Retain, store: true, Forwardable(message.Properties));
            if (id < 0)
            {
                // -2: the outbox holds MaxQueued; -1: above a limit the remote announced.
                Interlocked.Increment(ref _dropped);
                _broker.CountDropped(id == -2 ? DropReason.BridgeQueueFull : DropReason.TooLargeForClient);
            }
            else if (qos == MqttQoS.AtMostOnce)
            {
                Interlocked.Increment(ref _sent);
            }

            return;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Stopping first: what the client fails as it stops stays in the session for the next start.
        _stopped = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _subscription?.Dispose();
        _session?.Dispose();
        if (_pump is not null)
        {
            // Before the client goes: the pump hands messages to it.
            await _pump.ConfigureAwait(false);
        }

        await SayStoppingAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);

        PublishState(connected: false);
        _stopping.Dispose();
    }

    private static MqttClientOptions ClientOptions(BridgeOptions options)
    {
        var (host, port) = options.Endpoint;
        var tls = options.Tls;
        return new MqttClientOptions
        {
            Host = host,
            Port = port,
            Transport = tls.Enabled ? MqttTransport.Ssl : MqttTransport.Tcp,
            ClientId = options.EffectiveClientId,
            Username = options.Username,
            Password = options.Password,
            ProtocolVersion = options.Version,
            BridgeProtocolLevel = options.TryPrivate && options.Version != MqttProtocolVersion.V500,
            CleanSession = options.CleanSession,
            KeepAlive = TimeSpan.FromSeconds(options.KeepAliveSeconds),
            DisableKeepAlive = options.KeepAliveSeconds == 0,
            ReconnectDelay = TimeSpan.FromSeconds(options.ReconnectMinSeconds),
            MaxReconnectDelay = TimeSpan.FromSeconds(options.ReconnectMaxSeconds),
            OutboxLimit = options.MaxQueued,
            OutboxOverflow = OutboxOverflowPolicy.RejectNew,
            ServerCertificatePem = tls.CaFile is null ? null : File.ReadAllText(tls.CaFile),
            ClientCertificatePem = tls.CertFile is null ? null : File.ReadAllText(tls.CertFile),
            ClientKeyPem = tls.KeyFile is null ? null : File.ReadAllText(tls.KeyFile),
            SkipCertificateCommonNameCheck = tls.SkipNameCheck,

            // As Mosquitto's: the remote publishes 0 on the state topic when the link dies without a DISCONNECT.
            LastWillTopic = options.NotificationsLocalOnly ? null : options.EffectiveNotificationTopic,
            LastWillMessage = Down,
            LastWillQoS = MqttQoS.AtLeastOnce,
            LastWillRetain = true,

            // A session kept on the remote still sends what it queued for us; without a whole session
            // the remote may also hold QoS 2 state: the window stays the client's default.
            SessionExpiryInterval = options.Version == MqttProtocolVersion.V500 && !options.CleanSession ? uint.MaxValue : null,
        };
    }

    /// <summary>
    /// The out rules as the session's subscriptions: no local, so what this bridge brings in does not go
    /// back out; retain as published; one per filter at the highest QoS of its rules (the first rule
    /// that matches a message decides its QoS when it is forwarded).
    /// </summary>
    private TopicSubscription[] SessionSubscriptions()
        => _out
            .GroupBy(rule => rule.LocalFilter, StringComparer.Ordinal)
            .Select(g => new TopicSubscription(g.Key, new SubscriptionOptions((MqttQoS)g.Max(rule => rule.QoS), NoLocal: true, RetainAsPublished: true)))
            .ToArray();

    private void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>
    /// Takes messages from the session into the client while the remote is connected and the window
    /// has room; woken when a message is queued, when the remote connects, and when one is acknowledged.
    /// </summary>
    private async Task PumpAsync()
    {
        try
        {
            while (await _wake.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                _wake.Reader.TryRead(out _);
                while (!_stopped && _client.State == MqttClientState.Connected && Volatile.Read(ref _handed) < Window && _session!.TryTake(out var message, out var id))
                {
                    Forward(message, id);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: what is still in the session waits there for the next start.
        }
    }

    private void Forward(InProcessMessage message, int id)
    {
        var rule = FindOutRule(message.Topic);
        var remoteTopic = rule?.ToRemote(message.Topic) ?? "";
        if (rule is null || remoteTopic.Length == 0)
        {
            // Queued under rules of an earlier configuration that no longer forward it.
            _session!.Complete(id);
            return;
        }

        var qos = (MqttQoS)Math.Min((int)message.QoS, rule.QoS);
        var properties = Forwardable(message.Properties);
        if (qos == MqttQoS.AtMostOnce)
        {
            var result = _client.Enqueue(remoteTopic, message.Payload, qos, message.Retain, store: true, properties);
            _session!.Complete(id);
            if (result < 0)
            {
                Interlocked.Increment(ref _dropped);
                _broker.CountDropped(result == -2 ? DropReason.BridgeQueueFull : DropReason.TooLargeForClient);
            }
            else
            {
                Interlocked.Increment(ref _sent);
            }

            return;
        }

        Interlocked.Increment(ref _handed);
        _ = AwaitAcknowledgementAsync(_client.PublishAsync(remoteTopic, message.Payload, qos, message.Retain, properties), id);
    }

    /// <summary>The remote's PUBACK/PUBCOMP (counted in <see cref="OnPublished"/>) takes the message out of the session.</summary>
    private async Task AwaitAcknowledgementAsync(Task<PublishResult> publish, int id)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (MqttClientException ex)
        {
            if (_stopped)
            {
                // The client stopped with it unacknowledged: it stays in the session, sent again at the next start.
                Interlocked.Decrement(ref _handed);
                return;
            }

            // Refused for good: above a limit the remote announced.
            Interlocked.Increment(ref _dropped);
            _broker.CountDropped(DropReason.TooLargeForClient);
            _lastError = ex.Message;
        }

        _session!.Complete(id);
        Interlocked.Decrement(ref _handed);
        Wake();
    }

    /// <summary>PUBLISH properties that belong to the message, not to the hop it came over.</summary>
    private static MqttProperties? Forwardable(MqttProperties? properties)
        => properties is null || (properties.SubscriptionIdentifiers is null && properties.TopicAlias is null)
            ? properties
            : properties with { SubscriptionIdentifiers = null, TopicAlias = null };

    private void OnConnected(object? sender, ConnectedEventArgs e)
    {
        Interlocked.Exchange(ref _connectedAtTicks, DateTimeOffset.UtcNow.UtcTicks);
        _lastError = null;
        BridgeLog.Connected(_logger, Name, e.SessionPresent);
        PublishRemoteState(e.Properties);
        PublishState(connected: true);
        Wake();

        // Once per client: after that the client restores the subscriptions on its own whenever the
        // remote lost the session.
        if (_in.Length == 0 || Interlocked.CompareExchange(ref _subscribed, 1, 0) != 0)
        {
            return;
        }

        var noLocal = _options.Version == MqttProtocolVersion.V500;
        var subscriptions = _in
            .Select(rule => new TopicSubscription(rule.RemoteFilter, new SubscriptionOptions((MqttQoS)rule.QoS, NoLocal: noLocal, RetainAsPublished: true)))
            .DistinctBy(s => s.Filter, StringComparer.Ordinal)
            .ToArray();
        if (_client.Subscribe(subscriptions) < 0)
        {
            Volatile.Write(ref _subscribed, 0);
        }
    }

    private void OnDisconnected(object? sender, DisconnectedEventArgs e)
    {
        Interlocked.Exchange(ref _connectedAtTicks, 0);
        PublishState(connected: false);
        if (!e.ClientInitiated)
        {
            _lastError = e.Reason ?? e.Exception?.Message ?? _lastError;
            BridgeLog.Disconnected(_logger, Name, _lastError);
        }
    }

    /// <summary>
    /// Mosquitto's bridge notification on this broker: by default <c>$SYS/broker/connection/&lt;client id&gt;/state</c>,
    /// retained, <c>1</c> while connected and <c>0</c> otherwise. Raised on the client's event task, in order.
    /// </summary>
    private void PublishState(bool connected)
    {
        if (_stateTopic is not null)
        {
            _broker.Publish(_stateTopic, connected ? Up : Down, MqttQoS.AtMostOnce, retain: true, properties: null, Origin);
        }
    }

    /// <summary>
    /// The <c>1</c> on the remote, right after its CONNACK, as Mosquitto sends it: QoS 1 unless the remote
    /// takes only QoS 0, retained unless it keeps no retained messages. Its will holds the <c>0</c>.
    /// </summary>
    private void PublishRemoteState(MqttProperties? connack)
    {
        if (!_stateOnRemote)
        {
            return;
        }

        var qos = connack?.MaximumQoS == 0 ? MqttQoS.AtMostOnce : MqttQoS.AtLeastOnce;
        _remoteRetain = connack?.RetainAvailable != 0;
        if (Volatile.Read(ref _stateMessageId) != 0)
        {
            return; // the last connection's 1, not acknowledged then, is sent again now
        }

        var id = _client.Enqueue(_stateTopic!, Up, qos, _remoteRetain, store: false);
        if (id > 0)
        {
            Volatile.Write(ref _stateMessageId, id);
        }
        else if (id == -2)
        {
            // The outbox holds MaxQueued forwarded messages: at QoS 0, which does not wait behind them.
            _client.Publish(_stateTopic!, Up, MqttQoS.AtMostOnce, _remoteRetain);
        }
    }

    /// <summary>
    /// A bridge that stops says <c>0</c> on the remote itself: its DISCONNECT tells the remote to discard the
    /// will. At QoS 0, written before the DISCONNECT; a remote that does not take it in time keeps the <c>1</c>.
    /// </summary>
    private async Task SayStoppingAsync()
    {
        if (!_stateOnRemote || _client.State != MqttClientState.Connected)
        {
            return;
        }

        try
        {
            await _client.PublishAsync(_stateTopic!, Down, MqttQoS.AtMostOnce, _remoteRetain).WaitAsync(StateNoticeTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MqttClientException or TimeoutException)
        {
            // The link went first (then the remote published the will) or is stuck: nothing more to do.
        }
    }

    private void OnPublished(object? sender, PublishedEventArgs e)
    {
        if (e.MessageId != 0 && e.MessageId == Volatile.Read(ref _stateMessageId))
        {
            Volatile.Write(ref _stateMessageId, 0);
            if ((byte)e.ReasonCode >= 0x80)
            {
                _lastError = $"the remote refused the state message on {_stateTopic} ({e.ReasonCode}); NotificationsLocalOnly keeps it on this broker";
            }

            return;
        }

        if ((byte)e.ReasonCode < 0x80)
        {
            Interlocked.Increment(ref _sent);
        }
        else
        {
            Interlocked.Increment(ref _dropped);
            _lastError = $"the remote refused a message ({e.ReasonCode})";
        }
    }

    /// <summary>
    /// A remote message into the local broker, published with this bridge's origin so that it does not
    /// go back out. On the client's read loop, before it acknowledges the message to the remote: a
    /// QoS 1/2 message is acknowledged once the local broker has routed it.
    /// </summary>
    private void ForwardInbound(MqttMessage message)
    {
        var rule = FindInRule(message.Topic);
        if (rule is null)
        {
            return;
        }

        var localTopic = rule.ToLocal(message.Topic);
        try
        {
            _broker.Publish(localTopic, message.Payload, message.QoS, message.Retain, Forwardable(message.Properties), Origin);
            Interlocked.Increment(ref _received);
        }
        catch (ArgumentException ex)
        {
            // Not a valid topic here (the prefixes made an empty one): taking it again would not help.
            Interlocked.Increment(ref _dropped);
            _lastError = ex.Message;
        }
    }

    private BridgeTopicOptions? FindOutRule(string topic)
    {
        foreach (var rule in _out)
        {
            if (topic.StartsWith(rule.LocalPrefix, StringComparison.Ordinal) && MqttTopic.Matches(rule.LocalFilter, topic))
            {
                return rule;
            }
        }

        return null;
    }

    private BridgeTopicOptions? FindInRule(string topic)
    {
        foreach (var rule in _in)
        {
            if (topic.StartsWith(rule.RemotePrefix, StringComparison.Ordinal) && MqttTopic.Matches(rule.RemoteFilter, topic))
            {
                return rule;
            }
        }

        return null;
    }
}

/// <summary>A bridge's state as <c>GET /api/v5/bridges</c> reports it.</summary>
internal sealed record BridgeStatus(
    string Name,
    string Address,
    string ProtoVer,
    string Clientid,
    bool Connected,
    string State,
    bool Subscribed,
    DateTimeOffset? ConnectedAt,
    int Queued,
    int MaxQueued,
    long Sent,
    long Received,
    long Dropped,
    string? LastError);

/// <summary>Bridge log messages (event ids 1500-1509).</summary>
internal static partial class BridgeLog
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Information, Message = "Bridge {Name} to {Host}:{Port} started ({Out} out, {In} in rules)")]
    public static partial void Started(ILogger logger, string name, string host, int port, int @out, int @in);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Bridge {Name} connected (session present: {SessionPresent})")]
    public static partial void Connected(ILogger logger, string name, bool sessionPresent);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "Bridge {Name} disconnected: {Reason}; messages for the remote are queued until it is back")]
    public static partial void Disconnected(ILogger logger, string name, string? reason);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Warning, Message = "Bridge {Name}: {Reason}")]
    public static partial void SubscribeRefused(ILogger logger, string name, string reason);
}
