using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// State the broker keeps per client id, across connections when the session is persistent:
/// subscriptions, the outgoing in-flight window, the queue behind it, and incoming QoS 2 ids.
/// Lock order: session → subscription index. Deliveries come from any publisher's read loop.
/// </summary>
internal sealed partial class MqttSession
{
    /// <summary>Session expiry meaning "never" (MQTT 3.1.1 clean session 0).</summary>
    public const uint NeverExpires = uint.MaxValue;

    // Allocated on first use: most sessions of an idle connection never hold a message.
    private InflightWindow? _inflight;
    private Queue<Delivery>? _queue;
    private HashSet<ushort>? _incomingQoS2;
    private Dictionary<string, Subscription>? _subscriptions;
    private readonly MqttBroker _broker;
    private readonly BrokerOptions _options;
    private readonly BrokerStatistics _statistics;
    private MqttConnection? _connection;
    private MqttConnection? _owner;
    private int _inflightLimit;

    // In-flight messages of an earlier connection not yet resent on this one (see Attach).
    private int _unsent;
    private ushort _lastPacketId;

    public MqttSession(string clientId, MqttBroker broker)
    {
        ClientId = clientId;
        _broker = broker;
        _options = broker.Options;
        _statistics = broker.Statistics;
        _inflightLimit = _options.MaxInflight;
    }

    public string ClientId { get; }

    /// <summary>Seconds the session outlives its connection; 0 ends it at disconnect.</summary>
    public uint ExpiryInterval { get; set; }

    /// <summary>
    /// The connection that owns the session, attached or about to be; null while offline. Changed
    /// under the session's lock (by the session manager), so an attach can check it atomically.
    /// </summary>
    public MqttConnection? Owner => Volatile.Read(ref _owner);

    /// <summary>An online connection receives deliveries.</summary>
    public bool IsOnline => Volatile.Read(ref _connection) is not null;

    /// <summary>The broker's clock (ms) when the owner went away.</summary>
    public long DisconnectedAt { get; set; }

    public bool Ended { get; private set; }

    /// <summary>Who owns the session, for access checks on its will; set on CONNECT.</summary>
    public ClientIdentity? Identity { get; set; }

    /// <summary>An MQTT 5 will waiting for its will delay interval; guarded by the session manager.</summary>
    public WillMessage? PendingWill { get; set; }

    /// <summary>The broker's clock (ms) when <see cref="PendingWill"/> is published.</summary>
    public long PendingWillDue { get; set; }

    /// <summary>The filters if the session ever subscribed, without creating the map; read under <see cref="Sync"/>, changed by <see cref="Subscribe"/>.</summary>
    public IReadOnlyDictionary<string, Subscription>? SubscriptionsIfAny => _subscriptions;

    /// <remarks>The session itself: a lock object would cost every session 40 bytes, and nothing else locks on a session.</remarks>
    public object Sync => this;

    public int QueuedCount
    {
        get
        {
            lock (Sync)
            {
                return _queue?.Count ?? 0;
            }
        }
    }

    /// <summary>QoS 1/2 messages sent and not yet acknowledged (resent when the client comes back).</summary>
    public int InflightMessages
    {
        get
        {
            lock (Sync)
            {
                return _inflight?.Count ?? 0;
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="owner"/> the owner; the previous owner (to be closed by the caller) stops
    /// receiving at once. Returns the previous owner.
    /// </summary>
    public MqttConnection? TransferOwner(MqttConnection owner)
    {
        lock (Sync)
        {
            var previous = _owner;
            if (_connection is not null && !ReferenceEquals(_connection, owner))
            {
                _connection = null;
            }

            Volatile.Write(ref _owner, owner);
            if (_store is not null && previous is null)
            {
                // Connected again: the stored row says so.
                _rowChanged = true;
                Enlist();
            }

            return previous;
        }
    }

    /// <summary>
    /// The owner's connection ended: the session goes offline at <paramref name="now"/>. False when
    /// <paramref name="connection"/> no longer owns it (another connection took it over).
    /// </summary>
    public bool ReleaseOwner(MqttConnection connection, long now)
    {
        List<MqttConnection>? relieved;
        lock (Sync)
        {
            if (!ReferenceEquals(_owner, connection))
            {
                return false;
            }

            Volatile.Write(ref _owner, null);
            if (ReferenceEquals(_connection, connection))
            {
                _connection = null;
            }

            DisconnectedAt = now;
            if (_store is not null)
            {
                _rowChanged = true;
                Enlist();
            }

            // An offline session never slows anyone: its publishers go on at once.
            relieved = TakeAllWaiters();
        }

        Relieve(relieved);
        return true;
    }

    /// <summary>
    /// Attaches the owning connection: CONNACK first, then the unacknowledged in-flight messages again
    /// (PUBLISH with DUP, or PUBREL) [MQTT-4.4.0-1], then whatever queued while offline. False when
    /// <paramref name="connection"/> lost the session to a newer connection before it got here.
    /// </summary>
    public bool Attach(MqttConnection connection, ConnAckPacket connAck, int inflightLimit)
    {
        lock (Sync)
        {
            if (Ended || !ReferenceEquals(_owner, connection))
            {
                return false;
            }

            // CONNACK is queued before the connection can receive anything: a QoS 0 delivery reads
            // _connection without the lock [MQTT-3.2.0-1].
            _inflightLimit = inflightLimit;
            connection.SendControl(connAck);
            Volatile.Write(ref _connection, connection);
            if (_inflight is not null)
            {
                // Resent up to the new connection's window (its receive maximum may be smaller than
                // the last one's [MQTT-3.3.4-9]); the rest go as acknowledgements make room.
                var sent = 0;
                _unsent = 0;
                foreach (var (id, message) in _inflight)
                {
                    if (sent < inflightLimit)
                    {
                        Resend(connection, id, message, ResendTicket(message));
                        sent++;
                    }
                    else
                    {
                        message.Unsent = true;
                        _unsent++;
                    }
                }
            }

            PumpQueue(connection);
            return true;
        }
    }

    /// <summary>
    /// Delivers a routed message; never blocks the publisher. True when <paramref name="publisher"/>
    /// should hold back its acknowledgement because this online session's queue is above its
    /// high-water mark (see MqttSession.Flow.cs); the session then tells the publisher when it
    /// is back under its low-water mark.
    /// </summary>
    public bool Deliver(in Delivery delivery, MqttConnection? publisher = null)
    {
        var message = delivery.Message;
        if (message.HasExpiry && message.IsExpired(_broker.NowMs))
        {
            _broker.Dropped(DropReason.Expired, this);
            return false;
        }

        if (delivery.QoS == MqttQoS.AtMostOnce)
        {
            var connection = Volatile.Read(ref _connection);
            if (connection is not null)
            {
                connection.SendQoS0(delivery);
                publisher?.NoteDelivered();
                return false;
            }

            if ((!_options.QueueQoS0Messages || ExpiryInterval == 0) && _pull is null)
            {
                _broker.Dropped(DropReason.QoS0Offline, this);
                return false;
            }
        }

        lock (Sync)
        {
            if (Ended)
            {
                _broker.Dropped(DropReason.SessionEnded, this);
                return false;
            }

            var connection = _connection;
            if (connection is not null && delivery.QoS == MqttQoS.AtMostOnce)
            {
                connection.SendQoS0(delivery);
                publisher?.NoteDelivered();
                return false;
            }

            if (connection is not null && QueueCount == 0 && InflightCount < _inflightLimit)
            {
                SendInflight(connection, delivery);
                publisher?.NoteDelivered();
                if (_store is not null)
                {
                    publisher?.NoteStored();
                }

                return false;
            }

            if (_pull is { } pull)
            {
                return EnqueuePulled(delivery, pull, publisher);
            }

            // Owned counts as online: between a takeover and the new attach the session is not offline.
            return Enqueue(delivery, _owner is not null, publisher);
        }
    }

    /// <summary>
    /// A retained message sent because of a SUBSCRIBE: queued whatever the queue bounds (the set is
    /// bounded by <c>Broker:MaxRetainedMessages</c>) and paced by the client's in-flight window.
    /// </summary>
    public void DeliverRetained(in Delivery delivery)
    {
        if (delivery.Message.HasExpiry && delivery.Message.IsExpired(_broker.NowMs))
        {
            // [MQTT-3.3.2-5] an expired retained message is not sent (nor counted: it was nobody's yet).
            return;
        }

        lock (Sync)
        {
            var connection = _connection;
            if (Ended || connection is null)
            {
                return;
            }

            if (delivery.QoS == MqttQoS.AtMostOnce && QueueCount == 0)
            {
                connection.SendQoS0(delivery, bounded: false);
            }
            else if (delivery.QoS != MqttQoS.AtMostOnce && QueueCount == 0 && InflightCount < _inflightLimit)
            {
                SendInflight(connection, delivery);
            }
            else
            {
                var queued = Sequenced(delivery);
                Record(SessionChange.Added(queued, 0));
                (_queue ??= new()).Enqueue(queued);
                _queuedBytes += Size(queued);
            }
        }
    }

    /// <summary>A QoS 2 PUBLISH arrived; false when its id is already awaiting PUBREL (a resend).</summary>
    public bool TryAddIncomingQoS2(ushort packetId, int receiveMaximum, out bool overQuota)
    {
        lock (Sync)
        {
            overQuota = false;
            _incomingQoS2 ??= [];
            if (_incomingQoS2.Contains(packetId))
            {
                return false;
            }

            if (_incomingQoS2.Count >= receiveMaximum)
            {
                overQuota = true;
                return false;
            }

            _incomingQoS2.Add(packetId);
            Record(SessionChange.Incoming(packetId, added: true));
            return true;
        }
    }

    /// <summary>PUBREL arrived; false when the id was not awaiting it. <paramref name="ticket"/>: the commit PUBCOMP waits for.</summary>
    public bool ReleaseIncomingQoS2(ushort packetId, out long ticket)
    {
        lock (Sync)
        {
            ticket = 0;
            if (_incomingQoS2?.Remove(packetId) != true)
            {
                return false;
            }

            ticket = Record(SessionChange.Incoming(packetId, added: false));
            return true;
        }
    }

    /// <summary>PUBACK for a QoS 1 message.</summary>
    public void OnPubAck(ushort packetId)
    {
        List<MqttConnection>? relieved = null;
        lock (Sync)
        {
            if (_inflight is not null && _inflight.TryGetValue(packetId, out var message) && message.Delivery.QoS == MqttQoS.AtLeastOnce)
            {
                _inflight.Remove(packetId);
                Record(SessionChange.Removed(message.Delivery));
                _unsent -= message.Unsent ? 1 : 0;
                PumpQueue(_connection);
                relieved = TakeRelieved();
            }
        }

        Relieve(relieved);
    }

    /// <summary>
    /// The writer dropped an in-flight PUBLISH larger than the client's maximum packet size; it
    /// counts as acknowledged [MQTT-3.1.2-25].
    /// </summary>
    public void OnDiscarded(ushort packetId)
    {
        List<MqttConnection>? relieved = null;
        lock (Sync)
        {
            if (_inflight is not null && _inflight.Remove(packetId, out var message))
            {
                Record(SessionChange.Removed(message.Delivery));
                _unsent -= message.Unsent ? 1 : 0;
                PumpQueue(_connection);
                relieved = TakeRelieved();
            }
        }

        Relieve(relieved);
    }

    /// <summary>PUBREC for a QoS 2 message; the caller answers with PUBREL either way, once <paramref name="ticket"/> commits.</summary>
    public bool OnPubRec(ushort packetId, out long ticket)
    {
        lock (Sync)
        {
            ticket = 0;
            if (_inflight is not null && _inflight.TryGetValue(packetId, out var message) && message.Delivery.QoS == MqttQoS.ExactlyOnce)
            {
                if (!message.Released)
                {
                    message.Released = true;
                    ticket = Record(SessionChange.ReleasedAt(message.Delivery, packetId));
                }
                else if (_store is not null)
                {
                    // A repeated PUBREC: PUBREL again, after the first one's commit.
                    ticket = _store.Ticket;
                }

                return true;
            }

            return false;
        }
    }

    /// <summary>PUBCOMP for a QoS 2 message.</summary>
    public void OnPubComp(ushort packetId)
    {
        List<MqttConnection>? relieved = null;
        lock (Sync)
        {
            if (_inflight is not null && _inflight.TryGetValue(packetId, out var message) && message.Released)
            {
                _inflight.Remove(packetId);
                Record(SessionChange.Removed(message.Delivery));
                _unsent -= message.Unsent ? 1 : 0;
                PumpQueue(_connection);
                relieved = TakeRelieved();
            }
        }

        Relieve(relieved);
    }

    /// <summary>
    /// Ends the session for good: subscriptions leave the index, queues are dropped. Returns the
    /// unacknowledged messages it got through shared subscriptions, for the group to hand on.
    /// </summary>
    public List<Delivery>? End(SubscriptionIndex index)
    {
        List<MqttConnection>? relieved;
        List<Delivery>? result;
        lock (Sync)
        {
            if (Ended)
            {
                return null;
            }

            var shared = TakeSharedDeliveriesLocked(sessionEnds: true);
            var lost = QueueCount + InflightCount;
            if (lost > 0)
            {
                _broker.Dropped(DropReason.SessionEnded, this, lost);
            }

            relieved = TakeAllWaiters();
            Ended = true;
            if (_store is not null)
            {
                // The writer deletes the session with all it holds; what was logged before no longer matters.
                _changes = null;
                _rowChanged = true;
                Enlist();
            }

            if (_subscriptions is not null)
            {
                foreach (var filter in _subscriptions.Keys)
                {
                    index.Remove(this, filter);
                }
            }

            _subscriptions = null;
            _queue = null;
            _inflight = null;
            _unsent = 0;
            _incomingQoS2 = null;
            _connection = null;
            _queuedBytes = 0;
            result = shared;
        }

        Relieve(relieved);
        return result;
    }

    /// <summary>Under the lock: takes the queue's head; false if it had expired ([MQTT-3.3.2-5]: dropped, counted, not sent).</summary>
    private bool DequeueLive(long now, out Delivery next)
    {
        next = _queue!.Dequeue();
        _queuedBytes -= Size(next);
        if (!next.Message.IsExpired(now))
        {
            return true;
        }

        Record(SessionChange.Removed(next));
        _broker.Dropped(DropReason.Expired, this);
        return false;
    }

    private int QueueCount => _queue?.Count ?? 0;

    private int InflightCount => _inflight?.Count ?? 0;

    private static void Resend(MqttConnection connection, ushort id, InflightMessage message, long ticket)
    {
        message.Unsent = false;
        if (message.Released)
        {
            connection.SendControlAfterCommit(new PubRelPacket { PacketId = id }, ticket);
        }
        else
        {
            connection.SendPublish(message.Delivery, id, dup: true, ticket);
        }
    }

    /// <summary>
    /// A QoS 2 message of a stored session is resent only once its state is committed: a client that
    /// completed it before a crash the store did not see would take it as new [MQTT-4.3.3].
    /// </summary>
    private long ResendTicket(InflightMessage message)
        => _store is not null && message.Delivery.QoS == MqttQoS.ExactlyOnce ? _store.Ticket : 0;

    private void PumpQueue(MqttConnection? connection)
    {
        if (connection is not null && _unsent > 0 && _inflight is not null)
        {
            // In-flight messages of an earlier connection that did not fit this one's window yet.
            var onWire = _inflight.Count - _unsent;
            foreach (var (id, message) in _inflight)
            {
                if (onWire >= _inflightLimit || _unsent == 0)
                {
                    break;
                }

                if (message.Unsent)
                {
                    Resend(connection, id, message, ResendTicket(message));
                    _unsent--;
                    onWire++;
                }
            }
        }

        if (connection is null || _queue is null)
        {
            return;
        }

        var now = _broker.NowMs;
        while (_queue.Count > 0 && (_queue.Peek().QoS == MqttQoS.AtMostOnce || InflightCount < _inflightLimit))
        {
            if (!DequeueLive(now, out var next))
            {
                continue;
            }

            if (next.QoS == MqttQoS.AtMostOnce)
            {
                Record(SessionChange.Removed(next));
                connection.SendQoS0(next);
            }
            else
            {
                SendInflight(connection, next);
            }
        }
    }

    private void SendInflight(MqttConnection connection, in Delivery delivery)
    {
        var id = NextPacketId();
        long ticket = 0;
        var sent = delivery;
        if (_store is not null)
        {
            // From the queue it is stored already and gets its packet id; else it is new here.
            ticket = delivery.Sequence != 0 ? Record(SessionChange.Sent(delivery, id)) : Record(SessionChange.Added(sent = Sequenced(delivery), id));

            // QoS 1 may go before its commit (a crash means a resend, which QoS 1 allows); QoS 2 may
            // not: after a crash the client would get it again under another packet id.
            ticket = delivery.QoS == MqttQoS.ExactlyOnce ? ticket : 0;
        }

        (_inflight ??= new()).Add(id, new InflightMessage(sent));
        connection.SendPublish(sent, id, dup: false, ticket);
    }

    private ushort NextPacketId()
    {
        // The window is at most 65535, so a free id always exists.
        do
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
        }
        while (_inflight is not null && _inflight.ContainsKey(_lastPacketId));

        return _lastPacketId;
    }
}
