using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// A stored session logs every change of what it holds, under its lock, for the store writer, which
/// takes the log at its next batch (<see cref="StoreWriter"/>). A session with expiry interval 0, or
/// a broker without a store, logs nothing: a clean session costs no disk write.
/// </summary>
internal sealed partial class MqttSession
{
    // Non-null for a stored session: set when it is created or restored, never cleared.
    private StoreWriter? _store;
    private List<SessionChange>? _changes;

    // The session's own row (expiry, connection state, will) changed since the writer last took it.
    private bool _rowChanged;

    // Enlisted with the writer for its next batch (changed under Sync).
    private bool _enlisted;
    private long _lastSequence;

    /// <summary>The session outlives the process (the broker has a store and its expiry interval was above 0 when it started).</summary>
    public bool IsStored => _store is not null;

    /// <summary>What the store writer knows of this session; touched only on the writer's thread.</summary>
    internal StoredSessionState? StoreState { get; set; }

    /// <summary>Makes a new session a stored one; from here on its changes reach the store.</summary>
    public void StartStoring(StoreWriter store)
    {
        lock (Sync)
        {
            _store = store;
            _rowChanged = true;
            Enlist();
        }
    }

    /// <summary>Restore: the session was stored; its changes from now on go to <paramref name="store"/>.</summary>
    internal void Restored(StoreWriter store) => _store = store;

    /// <summary>Restore: a stored subscription, back in the index.</summary>
    internal void RestoreSubscription(string filter, SubscriptionOptions options, uint? subscriptionId)
    {
        lock (Sync)
        {
            var subscription = Subscription.Create(this, filter, options, subscriptionId);
            (_subscriptions ??= new(StringComparer.Ordinal))[filter] = subscription;
            _broker.Index.Add(subscription);
        }
    }

    /// <summary>Restore: a stored delivery, in sequence order; one with a packet id is resent when the client is back.</summary>
    internal void RestoreDelivery(in Delivery delivery, ushort packetId, bool released)
    {
        lock (Sync)
        {
            _lastSequence = Math.Max(_lastSequence, delivery.Sequence);
            if (packetId != 0 && (_inflight is null || !_inflight.ContainsKey(packetId)))
            {
                (_inflight ??= new()).Add(packetId, new InflightMessage(delivery) { Released = released, Unsent = true });
                _unsent++;
                _lastPacketId = packetId;
            }
            else
            {
                (_queue ??= new()).Enqueue(delivery);
                _queuedBytes += Size(delivery);
            }
        }
    }

    /// <summary>Restore: a QoS 2 packet id received before the restart and still awaiting PUBREL.</summary>
    internal void RestoreIncomingQoS2(ushort packetId)
    {
        lock (Sync)
        {
            (_incomingQoS2 ??= []).Add(packetId);
        }
    }

    /// <summary>The session's row changed (expiry interval, connection, delayed will); returns the ticket its commit answers to.</summary>
    public long RowChanged()
    {
        if (_store is null)
        {
            return 0;
        }

        lock (Sync)
        {
            _rowChanged = true;
            return Enlist();
        }
    }

    /// <summary>
    /// On the writer's thread: takes the changes since the last batch, and the session's row if it
    /// changed. <paramref name="ended"/>: the session is gone, with all it held. While connected,
    /// <paramref name="pendingWill"/> is the connection's will and <paramref name="willDue"/> is <see cref="long.MinValue"/>.
    /// </summary>
    internal List<SessionChange>? TakeChanges(out bool rowChanged, out bool ended, out uint expiryInterval, out long disconnectedAt, out WillMessage? pendingWill, out long willDue, out ClientIdentity? identity)
    {
        lock (Sync)
        {
            _enlisted = false;
            rowChanged = _rowChanged;
            _rowChanged = false;
            ended = Ended;
            expiryInterval = ExpiryInterval;
            disconnectedAt = _owner is null ? DisconnectedAt : long.MinValue;
            if (_owner is { } owner)
            {
                // Connected: the row keeps the connection's will (no due time), which a stop without a
                // word ends like a lost connection: the restore publishes it.
                pendingWill = owner.Will;
                willDue = long.MinValue;
            }
            else
            {
                pendingWill = PendingWill;
                willDue = PendingWillDue;
            }
            identity = Identity;
            var changes = _changes;
            _changes = null;
            return changes;
        }
    }

    /// <summary>Under the lock: logs a change of a stored session; the ticket its commit answers to (0: not stored).</summary>
    private long Record(in SessionChange change)
    {
        if (_store is null)
        {
            return 0;
        }

        if (_changes is null)
        {
            // Enlisted with the first change of a batch, which hands out a list from the writer's pool.
            if (_enlisted)
            {
                _changes = _store.RentChanges();
            }
            else
            {
                _enlisted = true;
                _changes = _store.Enlist(this, changes: true)!;
            }
        }

        _changes.Add(change);
        return _store.Ticket;
    }

    /// <summary>Under the lock: gives a delivery entering a stored session its sequence.</summary>
    private Delivery Sequenced(in Delivery delivery)
        => _store is null || delivery.Sequence != 0 ? delivery : delivery with { Sequence = ++_lastSequence };

    private long Enlist()
    {
        if (!_enlisted)
        {
            _enlisted = true;
            _store!.Enlist(this);
        }

        return _store!.Ticket;
    }
}
