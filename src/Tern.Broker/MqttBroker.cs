using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// The broker engine. Give it each accepted connection as a duplex pipe
/// (<see cref="HandleConnectionAsync"/>); it owns sessions, routing, retained messages and wills.
/// </summary>
public sealed partial class MqttBroker : IAsyncDisposable
{
    // Each open connection with the UTC ticks of its accept (the admin views' "connected at").
    private readonly ConcurrentDictionary<MqttConnection, long> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly Dictionary<string, IEnhancedAuthenticator> _authenticators = new(StringComparer.Ordinal);
    private Task? _timerLoop;
    private int _stopped;
    private long _clientIdCounter;

    public MqttBroker(BrokerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(options, [], loggerFactory, timeProvider)
    {
    }

    public MqttBroker(BrokerOptions options, IEnumerable<IEnhancedAuthenticator> authenticators, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(authenticators);
        foreach (var authenticator in authenticators)
        {
            _authenticators[authenticator.Method] = authenticator;
        }

        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Time = timeProvider ?? TimeProvider.System;
        _logger = LoggerFactory.CreateLogger("Tern.Broker");
        ConnectionLogger = LoggerFactory.CreateLogger("Tern.Broker.Connections");
        Statistics = new BrokerStatistics(BrokerClock.Milliseconds(Time));
        Traces = new BrokerTraces(Time);
        Index = new SubscriptionIndex();
        Retained = new RetainedStore(options.MaxRetainedMessages);
        Sessions = new SessionManager(this);
        Bans = new BanList(options.Bans, Time);
        Limiter = new ConnectionLimiter(options, Bans, Time);
    }

    public BrokerOptions Options { get; }

    /// <summary>
    /// Checked in order on every CONNECT without an MQTT 5 authentication method; the first that
    /// handles it decides. Empty: every client is accepted. Fill before connections arrive.
    /// </summary>
    public IList<IMqttAuthenticator> Authenticators { get; } = new List<IMqttAuthenticator>();

    /// <summary>Access control for PUBLISH and SUBSCRIBE; null allows everything. Set before connections arrive.</summary>
    public IMqttAuthorizer? Authorizer { get; set; }

    public BrokerStatistics Statistics { get; }

    /// <summary>Live traces of a client id or a topic (packets in and out, drops), for debugging a device.</summary>
    public BrokerTraces Traces { get; }

    /// <summary>Banned client ids, user names and addresses (configured, flapping, or added at run time).</summary>
    public BanList Bans { get; }

    /// <summary>Connections that completed CONNECT.</summary>
    public int ConnectedClients
    {
        get
        {
            var count = 0;
            foreach (var (connection, _) in _connections)
            {
                if (connection.IsConnected)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>Sessions held, connected or not.</summary>
    public int SessionCount => Sessions.Count;

    public int SubscriptionCount => Index.Count;

    public int RetainedCount => Retained.Count;

    internal ILoggerFactory LoggerFactory { get; }

    internal ILogger ConnectionLogger { get; }

    internal TimeProvider Time { get; }

    /// <summary>The broker's monotonic clock in milliseconds (see <see cref="BrokerClock"/>).</summary>
    internal long NowMs => BrokerClock.Milliseconds(Time);

    /// <summary><see cref="BrokerOptions.MaxAckHoldSeconds"/> in milliseconds.</summary>
    internal long MaxAckHoldMs => (long)(Options.MaxAckHoldSeconds * 1000);

    internal SessionManager Sessions { get; }

    internal SubscriptionIndex Index { get; }

    internal RetainedStore Retained { get; }

    /// <summary>The store writer when the broker has a store (<see cref="UseStore"/>), else null.</summary>
    internal StoreWriter? Store { get; private set; }

    /// <summary>The store's figures, or null when the broker has none (<see cref="UseStore"/>).</summary>
    public StoreSnapshot? GetStoreSnapshot()
    {
        if (Store is not { } store)
        {
            return null;
        }

        var last = store.LastCommitUnixMs;
        return new StoreSnapshot(
            store.Store.Location,
            store.Store.SizeBytes,
            store.Commits,
            store.RowsWritten,
            last == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(last),
            store.Failure?.Message);
    }

    /// <summary>
    /// Keeps persistent sessions, their subscriptions and messages, retained messages and delayed wills
    /// in <paramref name="store"/>: <see cref="Start"/> restores them from it, and from then on QoS 1/2
    /// messages those hold are acknowledged only once written. <paramref name="flushIntervalMs"/>: how
    /// often <see cref="IBrokerStore.Flush"/> is called while there are writes (0: never). Call before
    /// <see cref="Start"/>; the broker disposes the store when it stops.
    /// </summary>
    public void UseStore(IBrokerStore store, int flushIntervalMs = 1000)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (_timerLoop is not null || Store is not null)
        {
            throw new InvalidOperationException("UseStore must be called once, before Start.");
        }

        Store = new StoreWriter(store, this, flushIntervalMs);
    }

    internal ConnectionLimiter Limiter { get; }

    /// <summary>
    /// Restores what the store holds (<see cref="UseStore"/>), then starts the timers ($SYS updates,
    /// keep-alive and CONNECT timeouts, session expiry). Call before connections arrive.
    /// </summary>
    /// <exception cref="StoreException">The store could not be read.</exception>
    public void Start()
    {
        if (_timerLoop is not null)
        {
            return;
        }

        if (Store is { } store)
        {
            StoreRestore.Run(this, store);
            Retained.Store = store;
            Bans.Store = store;
            store.Start();

            // The wills that came due while the broker was down (those of the connections its stop
            // ended among them) go out, and the sessions that expired end, before a client connects.
            Sessions.OnTimer(NowMs);
        }

        _timerLoop = Task.Run(() => TimerLoopAsync(_stopping.Token));
    }

    /// <summary>Runs one client connection until it closes.</summary>
    public Task HandleConnectionAsync(IDuplexPipe transport, MqttConnectionInfo info, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(info);
        if (Volatile.Read(ref _stopped) != 0)
        {
            info.Control?.Completed();
            return Task.CompletedTask;
        }

        var refusal = Limiter.TryAdmit(info, out var address);
        if (refusal is not null)
        {
            Statistics.ConnectionRefused();
            Log.ConnectionRefused(_logger, info.RemoteEndPoint?.ToString(), refusal);
            info.Control?.Completed();
            return Task.CompletedTask;
        }

        // Not async: the connection's own task is the only frame an idle connection keeps; it
        // releases the admission when it ends.
        var connection = new MqttConnection(this, transport, info, address);
        _connections.TryAdd(connection, Time.GetUtcNow().UtcTicks);
        Statistics.ConnectionOpened();
        return connection.RunAsync(cancellationToken);
    }

    /// <summary>Closes every connection (wills of abnormal ends are not sent on shutdown) and stops the timers.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var connection in _connections.Keys)
        {
            connection.Close("broker shutting down", publishWill: false, ReasonCode.ServerShuttingDown);
        }

        if (_timerLoop is not null)
        {
            await _timerLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (Store is { } store)
        {
            // The sessions' last changes (gone offline) are logged as their connections end.
            await WaitForConnectionsAsync(cancellationToken).ConfigureAwait(false);
            await Task.Run(store.Dispose, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task WaitForConnectionsAsync(CancellationToken cancellationToken)
    {
        if (_connections.IsEmpty)
        {
            return;
        }

        try
        {
            await _allClosed.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Written as they are: a connection that did not end in time is stored as connected.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Publishes a message from inside the process (as if a client had sent it).</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="qos">The QoS.</param>
    /// <param name="retain">Whether to retain it (an empty payload deletes the retained message).</param>
    /// <param name="properties">MQTT 5 PUBLISH properties passed on to subscribers (message expiry, response topic, user properties...), or null.</param>
    /// <returns>false when no subscription matched the topic.</returns>
    public bool Publish(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false, MqttProperties? properties = null)
        => Publish(topic, payload, qos, retain, properties, origin: null);

    /// <summary>
    /// Fans a message out to every matching session, on the caller's thread. A session whose queue
    /// is past its high-water mark asks <paramref name="publisher"/> to hold its acknowledgement.
    /// </summary>
    /// <returns>false when nothing subscribed to the topic.</returns>
    internal bool Route(ApplicationMessage message, MqttConnection? publisher = null)
    {
        if (message.Retain)
        {
            if (!Retained.Set(message))
            {
                Dropped(DropReason.RetainedStoreFull, null);
            }
            else if (Store is not null)
            {
                publisher?.NoteStored();
            }
        }

        var match = Index.Match(message.Topic);
        foreach (var target in match.Targets)
        {
            // [MQTT-3.8.3-3] no local: not back to the client that published it.
            if (target.NoLocal && message.PublisherClientId is not null && target.Session.ClientId == message.PublisherClientId)
            {
                continue;
            }

            var qos = message.QoS < target.QoS ? message.QoS : target.QoS;
            // [MQTT-3.3.1-9] live messages go out with RETAIN 0 unless retain-as-published.
            target.Session.Deliver(new Delivery(message, qos, target.RetainAsPublished && message.Retain, target.SubscriptionIdentifiers, null), publisher);
        }

        foreach (var group in match.Groups)
        {
            DeliverShared(group, message, exclude: null, publisher);
        }

        var matched = match.Targets.Length > 0 || match.Groups.Length > 0;
        var inProcess = Volatile.Read(ref _inProcess);
        if (inProcess.Length != 0 && DeliverInProcess(inProcess, message))
        {
            matched = true;
        }

        if (!matched)
        {
            Statistics.MessageDropped(DropReason.NoSubscribers);
        }

        return matched;
    }

    /// <summary>
    /// Whether a QoS 1/2 message to <paramref name="topic"/> would need the store: it is retained, or a
    /// persistent session subscribes to it (a shared group counts when any member is persistent, as
    /// the one picked is not known yet). Asked only once the store has failed, to refuse such a
    /// message before anyone gets it.
    /// </summary>
    internal bool WouldStore(string topic, bool retain, string? publisherClientId)
    {
        if (retain)
        {
            return true;
        }

        var match = Index.Match(topic);
        foreach (var target in match.Targets)
        {
            if (target.Session.IsStored && !(target.NoLocal && target.Session.ClientId == publisherClientId))
            {
                return true;
            }
        }

        foreach (var group in match.Groups)
        {
            foreach (var member in group.Members)
            {
                if (member.Session.IsStored)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Counts a message not delivered (to <paramref name="session"/>, or to nobody), with its reason.</summary>
    internal void Dropped(DropReason reason, MqttSession? session, long count = 1)
    {
        Statistics.MessageDropped(reason, count);
        session?.CountDrop(reason, count, _logger, NowMs);
        if (Traces.Active)
        {
            Traces.Dropped(session, reason, count);
        }
    }

    /// <summary>One copy to one member of a shared group [MQTT-4.8.2-3].</summary>
    private bool DeliverShared(SharedGroup group, ApplicationMessage message, MqttSession? exclude, MqttConnection? publisher = null)
    {
        var member = group.Pick(Options.SharedSubscriptionStrategy, exclude);
        if (member is null)
        {
            return false;
        }

        var qos = message.QoS < member.Options.QoS ? message.QoS : member.Options.QoS;
        uint[]? ids = member.SubscriptionIdentifier is { } id ? [id] : null;
        member.Session.Deliver(new Delivery(message, qos, member.Options.RetainAsPublished && message.Retain, ids, group), publisher);
        return true;
    }

    /// <summary>A connection ended: session bookkeeping and the will (see <see cref="SessionManager.Disconnected"/>).</summary>
    internal void OnSessionDisconnected(MqttSession session, MqttConnection connection, WillMessage? will)
        => Sessions.Disconnected(session, connection, will);

    /// <summary>
    /// QoS 1/2 messages a shared subscription member will not acknowledge (it went offline or its
    /// session ended) go to another member; with none left, back to the member while it lives.
    /// </summary>
    internal void HandOnShared(MqttSession session, List<Delivery> taken)
    {
        foreach (var delivery in taken)
        {
            if (!DeliverShared(delivery.Group!, delivery.Message, exclude: session) && !session.Ended)
            {
                session.Deliver(delivery);
            }
        }
    }

    internal void PublishWill(WillMessage will, string clientId, ClientIdentity? identity)
    {
        if (identity is not null && Authorizer is { } authorizer && !authorizer.CanPublish(identity, will.Topic))
        {
            return;
        }

        // Will delay is a CONNECT property, not one of the PUBLISH.
        var properties = will.Properties is { WillDelayInterval: not null } p ? p with { WillDelayInterval = null } : will.Properties;
        Route(new ApplicationMessage(will.Topic, will.Payload, will.QoS, will.Retain, properties, clientId, NowMs));
    }

    internal bool IsStopping => Volatile.Read(ref _stopped) != 0;

    internal IEnhancedAuthenticator? FindAuthenticator(string method) => _authenticators.GetValueOrDefault(method);

    internal string AssignClientId()
        => $"tern-{Environment.ProcessId:x}-{Interlocked.Increment(ref _clientIdCounter):x}-{Random.Shared.Next():x8}";

    internal void Unregister(MqttConnection connection)
    {
        _connections.TryRemove(connection, out _);
        if (_connections.IsEmpty && IsStopping)
        {
            _allClosed.TrySetResult();
        }
    }

    internal IEnumerable<MqttConnection> Connections => _connections.Keys;
}
