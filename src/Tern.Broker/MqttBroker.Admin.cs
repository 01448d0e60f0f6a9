using System.Collections.ObjectModel;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Read-only views for administration (the REST API, the dashboard, an embedding app) and the
/// kick. Each view is a copy taken without the session manager's lock: it takes one session's
/// lock at a time, briefly, and never blocks a publisher.
/// </summary>
public sealed partial class MqttBroker
{
    private static readonly IReadOnlyDictionary<DropReason, long> NoDrops = ReadOnlyDictionary<DropReason, long>.Empty;

    /// <summary>The counters now (what <c>$SYS/broker/...</c> publishes).</summary>
    public BrokerSnapshot GetSnapshot()
    {
        // Closed connections were folded into the statistics; add the open ones' own counters.
        long received = Statistics.ClosedMessagesReceived, sent = Statistics.ClosedMessagesSent;
        long bytesReceived = Statistics.ClosedBytesReceived, bytesSent = Statistics.ClosedBytesSent;
        var connected = 0;

        // Enumerated in place (Keys would copy every connection), as the timer does.
        foreach (var (connection, _) in _connections)
        {
            received += connection.MessagesReceived;
            sent += connection.MessagesSent;
            bytesReceived += connection.BytesReceived;
            bytesSent += connection.BytesSent;
            if (connection.IsConnected)
            {
                connected++;
            }
        }

        // The total is summed from the same reads as the breakdown, so the two always agree.
        var dropped = new Dictionary<DropReason, long>(DropReasonNames.All.Length);
        long droppedTotal = 0;
        foreach (var reason in DropReasonNames.All)
        {
            var count = Statistics.Dropped(reason);
            dropped[reason] = count;
            droppedTotal += reason == DropReason.NoSubscribers ? 0 : count;
        }

        return new BrokerSnapshot(
            BrokerVersion,
            TimeSpan.FromMilliseconds(NowMs - Statistics.StartTimestamp),
            connected,
            Sessions.Count,
            Index.Count,
            Retained.Count,
            received,
            sent,
            bytesReceived,
            bytesSent,
            droppedTotal,
            Statistics.ProtocolErrors,
            Statistics.ConnectionsTotal,
            Statistics.ConnectionsRefused,
            dropped,
            Statistics.InternalErrors,
            Statistics.SlowConsumersClosed);
    }

    /// <summary>
    /// Every client connected now (CONNECT accepted) and every persistent session kept for a
    /// client that is not connected, in no particular order.
    /// </summary>
    public IReadOnlyList<ClientSnapshot> GetClients()
    {
        var clients = new List<ClientSnapshot>();
        foreach (var (connection, acceptedAt) in _connections)
        {
            if (connection.IsConnected)
            {
                clients.Add(Snapshot(connection, acceptedAt));
            }
        }

        var connected = clients.Count;
        HashSet<string>? connectedIds = null;
        var now = Time.GetUtcNow();
        var ticks = Environment.TickCount64;
        foreach (var session in Sessions.All)
        {
            if (session.Owner is not null)
            {
                continue;
            }

            // A client connecting right now is connected before it owns its session: list it once.
            connectedIds ??= clients.Take(connected).Select(static c => c.ClientId).ToHashSet(StringComparer.Ordinal);
            if (!connectedIds.Contains(session.ClientId))
            {
                clients.Add(Snapshot(session, now, ticks));
            }
        }

        return clients;
    }

    /// <summary>
    /// The client with this id: the connected one (during a takeover the newer connection wins),
    /// else its persistent session if one is kept; null when neither exists.
    /// </summary>
    public ClientSnapshot? FindClient(string clientId)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        MqttConnection? found = null;
        var foundAt = long.MinValue;
        foreach (var (connection, acceptedAt) in _connections)
        {
            if (connection.IsConnected && connection.ClientId == clientId && acceptedAt >= foundAt)
            {
                found = connection;
                foundAt = acceptedAt;
            }
        }

        if (found is not null)
        {
            return Snapshot(found, foundAt);
        }

        return Sessions.TryGet(clientId, out var session) && session!.Owner is null
            ? Snapshot(session, Time.GetUtcNow(), Environment.TickCount64)
            : null;
    }

    /// <summary>
    /// Disconnects the client with this id (an administrator's kick): MQTT 5 clients get DISCONNECT
    /// 0x98 (Administrative action) first; the will is published, and a persistent session stays.
    /// </summary>
    /// <returns>false when no client with this id is connected.</returns>
    public bool DisconnectClient(string clientId, string reason = "disconnected by an administrator")
    {
        ArgumentNullException.ThrowIfNull(clientId);
        var found = false;
        foreach (var (connection, _) in _connections)
        {
            if (connection.IsConnected && connection.ClientId == clientId)
            {
                connection.Close(reason, publishWill: true, ReasonCode.AdministrativeAction);
                found = true;
            }
        }

        return found;
    }

    /// <summary>
    /// Ends the persistent session of a client that is not connected, as its expiry would: its
    /// subscriptions and queued messages are dropped, a will waiting for its delay is published,
    /// and the client's next CONNECT gets no session (session present 0).
    /// </summary>
    /// <returns>false when no session is kept for this id, or its client is connected (kick it first).</returns>
    public bool DiscardSession(string clientId)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        return Sessions.Discard(clientId);
    }

    /// <summary>Subscriptions of every session (of one client id when <paramref name="clientId"/> is given), in no particular order.</summary>
    public IReadOnlyList<SubscriptionSnapshot> GetSubscriptions(string? clientId = null)
    {
        var subscriptions = new List<SubscriptionSnapshot>();
        if (clientId is not null)
        {
            if (Sessions.TryGet(clientId, out var session))
            {
                AddSubscriptions(session!, subscriptions);
            }

            return subscriptions;
        }

        foreach (var session in Sessions.All)
        {
            AddSubscriptions(session, subscriptions);
        }

        return subscriptions;
    }

    /// <summary>
    /// How many retained messages match <paramref name="filter"/>; with the default <c>#</c>, those
    /// an administrator lists: every topic but <c>$SYS</c> and other <c>$</c> topics [MQTT-4.7.2-1],
    /// unlike <see cref="BrokerSnapshot.RetainedMessages"/>, which counts the whole store.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="filter"/> is not a valid topic filter.</exception>
    public int CountRetainedMessages(string filter = "#")
    {
        if (!MqttTopic.IsValidTopicFilter(filter))
        {
            throw new ArgumentException($"'{filter}' is not a valid topic filter.", nameof(filter));
        }

        return Retained.Match(filter).Count;
    }

    /// <summary>Retained messages whose topic matches <paramref name="filter"/> (<c>#</c>: all but <c>$</c> topics).</summary>
    /// <exception cref="ArgumentException"><paramref name="filter"/> is not a valid topic filter.</exception>
    public IReadOnlyList<RetainedSnapshot> GetRetainedMessages(string filter = "#")
    {
        if (!MqttTopic.IsValidTopicFilter(filter))
        {
            throw new ArgumentException($"'{filter}' is not a valid topic filter.", nameof(filter));
        }

        var now = Time.GetUtcNow();
        var ticks = NowMs;
        var matched = Retained.Match(filter);
        var result = new RetainedSnapshot[matched.Count];
        for (var i = 0; i < matched.Count; i++)
        {
            var message = matched[i];
            result[i] = new RetainedSnapshot(message.Topic, message.Payload, message.QoS, WallClock(now, ticks, message.CreatedTimestamp), message.PublisherClientId);
        }

        return result;
    }

    /// <summary>
    /// Deletes the retained message of <paramref name="topic"/> (an administrator's delete): unlike an
    /// empty retained PUBLISH, nothing is sent to the subscribers.
    /// </summary>
    /// <returns>false when no message is retained on this topic.</returns>
    public bool DeleteRetainedMessage(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (Retained.Find(topic)?.Message is null)
        {
            return false;
        }

        var store = Store;
        store?.Enter();
        try
        {
            // An empty payload deletes [MQTT-3.3.1-10]; set directly, it reaches no subscriber.
            Retained.Set(new ApplicationMessage(topic, ReadOnlyMemory<byte>.Empty, MqttQoS.AtMostOnce, true, null, null, NowMs));
            return true;
        }
        finally
        {
            store?.Exit();
        }
    }

    private ClientSnapshot Snapshot(MqttConnection connection, long acceptedAtTicks)
    {
        var clientId = connection.ClientId;
        int subscriptions = 0, queued = 0, inflight = 0, slowed = 0;
        uint expiry = 0;
        var (dropped, droppedByReason) = (0L, NoDrops);
        if (Sessions.TryGet(clientId, out var session) && ReferenceEquals(session!.Owner, connection))
        {
            subscriptions = SubscriptionCountOf(session);
            queued = session.QueuedCount;
            inflight = session.InflightMessages;
            expiry = session.ExpiryInterval;
            slowed = session.SlowedPublishers;
            (dropped, droppedByReason) = DropsOf(session);
        }

        return new ClientSnapshot(
            clientId,
            Connected: true,
            connection.Username,
            connection.RemoteEndPoint,
            connection.Version,
            connection.KeepAlive,
            new DateTimeOffset(acceptedAtTicks, TimeSpan.Zero),
            DisconnectedAt: null,
            connection.MessagesReceived,
            connection.MessagesSent,
            connection.BytesReceived,
            connection.BytesSent,
            subscriptions,
            queued,
            expiry,
            inflight,
            dropped,
            droppedByReason,
            slowed,
            connection.HeldAcknowledgements,
            connection.TimesSlowed)
        {
            CleanStart = connection.CleanStart,
            IsBridge = connection.IsBridge,
        };
    }

    /// <summary>A session no connection owns: what it keeps for its client.</summary>
    private static ClientSnapshot Snapshot(MqttSession session, DateTimeOffset now, long nowTicks)
    {
        var (dropped, droppedByReason) = DropsOf(session);
        return new ClientSnapshot(
            session.ClientId,
            Connected: false,
            session.Identity?.Username,
            RemoteEndPoint: null,
            ProtocolVersion: null,
            KeepAlive: null,
            ConnectedAt: null,
            WallClock(now, nowTicks, session.DisconnectedAt),
            0,
            0,
            0,
            0,
            SubscriptionCountOf(session),
            session.QueuedCount,
            session.ExpiryInterval,
            session.InflightMessages,
            dropped,
            droppedByReason,
            SlowedPublishers: 0,
            HeldAcknowledgements: 0,
            TimesSlowed: 0);
    }

    /// <summary>What <paramref name="session"/> was not given: the total and the reasons that dropped something.</summary>
    private static (long Total, IReadOnlyDictionary<DropReason, long> ByReason) DropsOf(MqttSession session)
    {
        long total = 0;
        Dictionary<DropReason, long>? byReason = null;
        foreach (var reason in DropReasonNames.All)
        {
            var count = session.Dropped(reason);
            if (count > 0)
            {
                (byReason ??= []).Add(reason, count);
                total += count;
            }
        }

        return (total, byReason ?? NoDrops);
    }

    /// <summary>
    /// An <see cref="Environment.TickCount64"/> stamp as a time of day, to the millisecond (the
    /// stamp's resolution) rather than with a different sub-millisecond part on every call.
    /// </summary>
    private static DateTimeOffset WallClock(DateTimeOffset now, long nowTicks, long stamp)
    {
        var at = now - TimeSpan.FromMilliseconds(nowTicks - stamp);
        return at.AddTicks(-(at.UtcTicks % TimeSpan.TicksPerMillisecond));
    }

    private static int SubscriptionCountOf(MqttSession session)
    {
        lock (session.Sync)
        {
            return session.SubscriptionsIfAny?.Count ?? 0;
        }
    }

    private static void AddSubscriptions(MqttSession session, List<SubscriptionSnapshot> into)
    {
        var online = session.IsOnline;
        lock (session.Sync)
        {
            if (session.SubscriptionsIfAny is not { } subscriptions)
            {
                return;
            }

            foreach (var subscription in subscriptions.Values)
            {
                into.Add(new SubscriptionSnapshot(
                    session.ClientId, subscription.Filter, subscription.Options, online, subscription.ShareName, subscription.SubscriptionIdentifier));
            }
        }
    }
}
