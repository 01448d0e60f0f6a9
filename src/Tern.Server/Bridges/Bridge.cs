using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Server.Bridges;

/// <summary>
/// One bridge: a Tern.Client connection to the remote broker. Out rules take local messages as an
/// in-process subscriber and put them in the client's outbox (bounded by <c>MaxQueued</c>, kept
/// across reconnects, resent until acknowledged); in rules subscribe on the remote and publish what
/// arrives into the local broker before the client acknowledges it to the remote.
/// </summary>
internal sealed class Bridge : IInProcessSubscriber, IAsyncDisposable
{
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
    private long _connectedAtTicks; // UTC ticks of the current connection, 0 while down (a long: read without tearing)

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
        if (_out.Length > 0)
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
        var state = _client.State;
        return new BridgeStatus(
            Name,
            $"{host}:{port}",
            _options.Version == MqttProtocolVersion.V500 ? "5" : "3.1.1",
            _client.ClientId,
            state == MqttClientState.Connected,
            state switch
            {
                MqttClientState.Connected => "connected",
                MqttClientState.WaitingReconnect => "waiting_reconnect",
                MqttClientState.NotStarted => "stopped",
                _ => "connecting",
            },
            _in.Length == 0 || Volatile.Read(ref _subscribed) == 2,
            Interlocked.Read(ref _connectedAtTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null,
            _client.OutboxCount,
            _options.MaxQueued,
            Interlocked.Read(ref _sent),
            Interlocked.Read(ref _received),
            Interlocked.Read(ref _dropped),
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
        _subscription?.Dispose();
        await _client.DisposeAsync().ConfigureAwait(false);
        PublishState(connected: false);
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

            // A session kept on the remote still sends what it queued for us; without a whole session
            // the remote may also hold QoS 2 state: the window stays the client's default.
            SessionExpiryInterval = options.Version == MqttProtocolVersion.V500 && !options.CleanSession ? uint.MaxValue : null,
        };
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
        PublishState(connected: true);

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
    /// Mosquitto's bridge notification on this broker: <c>$SYS/broker/connection/&lt;client id&gt;/state</c>,
    /// retained, <c>1</c> while connected and <c>0</c> otherwise. Raised on the client's event task, in order.
    /// </summary>
    private void PublishState(bool connected)
        => _broker.Publish($"$SYS/broker/connection/{_client.ClientId}/state", connected ? "1"u8.ToArray() : "0"u8.ToArray(), MqttQoS.AtMostOnce, retain: true, properties: null, Origin);

    private void OnPublished(object? sender, PublishedEventArgs e)
    {
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
