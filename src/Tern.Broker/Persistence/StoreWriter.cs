using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tern.Protocol;

namespace Tern.Broker.Persistence;

/// <summary>
/// Group commit to the <see cref="IBrokerStore"/>, on one dedicated thread. Stored sessions log their
/// changes under their own lock and enlist here; the retained store enlists the topics it changed.
/// The writer takes everything enlisted as one batch, coalesces it (a message delivered and
/// acknowledged between two batches is never written), writes it, and then tells the connections
/// waiting on it, whose acknowledgements go out only now. Socket threads never touch the disk.
/// <para>
/// A batch is a consistent cut: one operation (a PUBLISH with its routing and its incoming QoS 2
/// id, a session ending and handing its shared messages on) changes several sessions, and a crash
/// must not find some of them stored and not the others (an incoming id stored without the
/// deliveries would make the broker drop the publisher's resend). Operations run inside
/// <see cref="Enter"/>/<see cref="Exit"/>; the writer takes every log while none runs, which costs
/// the socket threads a pause of a few microseconds per batch.
/// </para>
/// <para>
/// Tickets: a change logged inside an operation, then <see cref="Ticket"/> read inside it, is in
/// that batch; batches commit in order, so the change is stored once <see cref="Committed"/> reaches it.
/// </para>
/// </summary>
internal sealed class StoreWriter : IDisposable
{
    // The largest table of deliveries by sequence the writer keeps (see AddChanges).
    private const int MaxSlots = 1 << 16;

    // Change lists handed back to the pool: at most this many, none larger than this.
    private const int MaxPooledLists = 512;
    private const int MaxPooledListCapacity = 256;

    private readonly IBrokerStore _store;
    private readonly MqttBroker _broker;
    private readonly ILogger _logger;
    private readonly long _flushIntervalMs;
    private readonly Lock _sync = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _thread;
    private readonly StoreBatch _batch = new();

    // Enlisted since the last batch (under _sync).
    private List<MqttSession> _dirty = [];
    private List<(string Topic, RetainedStore.Node Node)> _retained = [];
    private List<(BanKind Kind, string Value)> _bans = [];
    private List<MqttConnection> _waiting = [];
    private List<MqttConnection>? _spareWaiting;

    // Emptied change lists of earlier batches, for sessions to log into again (under _sync): a list
    // per session per batch, grown from nothing each time, cost more than the rest of the logging.
    private readonly Stack<List<SessionChange>> _changeLists = new();
    private readonly List<List<SessionChange>> _returnedLists = [];

    // The lists a batch took, cleared and handed back for the one after next (the writer thread's own).
    private List<MqttSession>? _spareDirty;
    private bool _stopping;

    // The writer thread's own.
    private readonly List<ApplicationMessage> _touched = [];
    // A delivery's last change in the session's list (its index + 1), by sequence (see AddChanges).
    private readonly Dictionary<long, int> _pending = [];
    private int[] _slots = new int[256];
    private readonly Dictionary<string, Subscription?> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<ushort, (bool FirstAdded, bool LastAdded)> _incoming = [];
    private readonly Dictionary<string, long> _retainedRows = new(StringComparer.Ordinal);
    private readonly List<Taken> _taken = [];
    private readonly List<(string Topic, RetainedStore.Node Node, ApplicationMessage? Current)> _retainedTaken = [];
    private readonly Dictionary<(BanKind, string), Ban?> _bansTaken = [];
    private bool _flushFailing;

    // Operations in progress (Enter/Exit), and the writer taking a cut (no operation may start).
    [ThreadStatic]
    private static int t_depth;
    private int _active;
    private int _cutting;
    private readonly List<string> _startupDeletes = [];
    private readonly List<long> _startupMessageDeletes = [];
    private readonly List<string> _startupRetainedDeletes = [];
    private long _nextMessageId;
    private long _number;
    private long _started;
    private long _committed;
    private long _rows;
    private long _commits;
    private long _lastCommitUnixMs;
    private Exception? _failure;

    public StoreWriter(IBrokerStore store, MqttBroker broker, long flushIntervalMs)
    {
        _store = store;
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger("Tern.Broker.Store");
        _flushIntervalMs = flushIntervalMs;
        _thread = new Thread(Run) { IsBackground = true, Name = "Tern store writer" };
    }

    /// <summary>The batch a change logged now will be part of at the latest.</summary>
    public long Ticket => Volatile.Read(ref _started) + 1;

    /// <summary>The last batch written.</summary>
    public long Committed => Volatile.Read(ref _committed);

    /// <summary>Batches written.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Wall-clock time of the last write (Unix ms), 0 before the first.</summary>
    public long LastCommitUnixMs => Interlocked.Read(ref _lastCommitUnixMs);

    /// <summary>Rows written (inserted, replaced or deleted).</summary>
    public long RowsWritten => Interlocked.Read(ref _rows);

    /// <summary>Why the last write failed; null while writes succeed.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    public IBrokerStore Store => _store;

    /// <summary>Restore: message ids continue after the largest stored one; these client ids and messages are deleted by the first batch.</summary>
    public void Restored(long lastMessageId, IEnumerable<string> expiredSessions, IEnumerable<string> retainedGone, IEnumerable<(BanKind, string)> bansGone, IEnumerable<long> unreferencedMessages)
    {
        _nextMessageId = lastMessageId;
        foreach (var ban in bansGone)
        {
            _bans.Add(ban);
        }

        _startupDeletes.AddRange(expiredSessions);
        _startupRetainedDeletes.AddRange(retainedGone);
        _startupMessageDeletes.AddRange(unreferencedMessages);
    }

    public void Start()
    {
        // The first batch deletes what expired while the broker was down.
        _wake.Set();
        _thread.Start();
    }

    /// <summary>
    /// Starts an operation whose changes must reach the store together (nested calls are free); waits
    /// while the writer takes a cut. Pair with <see cref="Exit"/>, on the same thread.
    /// </summary>
    public void Enter()
    {
        if (t_depth++ > 0)
        {
            return;
        }

        var spin = default(SpinWait);
        while (true)
        {
            if (Volatile.Read(ref _cutting) == 0)
            {
                Interlocked.Increment(ref _active);
                if (Volatile.Read(ref _cutting) == 0)
                {
                    return;
                }

                Interlocked.Decrement(ref _active);
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    public void Exit()
    {
        if (--t_depth == 0)
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>
    /// A stored session has changes for the next batch (called under its lock, once per batch); with
    /// <paramref name="changes"/>, an empty list to log them into.
    /// </summary>
    public List<SessionChange>? Enlist(MqttSession session, bool changes = false)
    {
        bool wake;
        List<SessionChange>? list = null;
        lock (_sync)
        {
            _dirty.Add(session);
            wake = _dirty.Count == 1;
            if (changes)
            {
                _changeLists.TryPop(out list);
            }
        }

        if (wake)
        {
            _wake.Set();
        }

        return changes ? list ?? new List<SessionChange>(16) : null;
    }

    /// <summary>An empty list for a session already enlisted to log its changes into (called under its lock).</summary>
    public List<SessionChange> RentChanges()
    {
        List<SessionChange>? list;
        lock (_sync)
        {
            _changeLists.TryPop(out list);
        }

        return list ?? new List<SessionChange>(16);
    }

    /// <summary>The retained message of <paramref name="topic"/> changed (set, replaced or deleted) in <paramref name="node"/>.</summary>
    public void RetainedChanged(string topic, RetainedStore.Node node)
    {
        bool wake;
        lock (_sync)
        {
            _retained.Add((topic, node));
            wake = _retained.Count == 1;
        }

        if (wake)
        {
            _wake.Set();
        }
    }

    /// <summary>A ban was added or removed at run time.</summary>
    public void BanChanged(BanKind kind, string value)
    {
        lock (_sync)
        {
            _bans.Add((kind, value));
        }

        _wake.Set();
    }

    /// <summary><paramref name="connection"/> holds packets until a batch commits: it is told after the next one.</summary>
    public void WaitForCommit(MqttConnection connection)
    {
        lock (_sync)
        {
            _waiting.Add(connection);
        }

        _wake.Set();
    }

    /// <summary>Writes what is left, flushes and closes the store.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            _stopping = true;
        }

        _wake.Set();
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        // _wake is not disposed: a connection that ends late may still enlist (its change is not written).
        _store.Dispose();
    }

    private void Run()
    {
        var unflushed = false;
        var lastFlush = Environment.TickCount64;
        while (true)
        {
            var timeout = unflushed && _flushIntervalMs > 0 ? (int)Math.Max(0, _flushIntervalMs - (Environment.TickCount64 - lastFlush)) : Timeout.Infinite;
            if (!Volatile.Read(ref _stopping))
            {
                _wake.Wait(timeout);
            }

            _wake.Reset();

            List<MqttSession> sessions;
            List<(string Topic, RetainedStore.Node Node)> retained;
            List<MqttConnection> waiting;
            List<(BanKind Kind, string Value)> bans;
            bool stopping;
            long number;

            // The cut: no operation runs while the lists are swapped and the sessions' logs taken.
            Interlocked.Exchange(ref _cutting, 1);
            var spin = default(SpinWait);
            while (Volatile.Read(ref _active) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            lock (_sync)
            {
                sessions = _dirty;
                retained = _retained;
                waiting = _waiting;
                bans = _bans;
                stopping = _stopping;
                if (sessions.Count > 0 || retained.Count > 0 || waiting.Count > 0 || bans.Count > 0 || _startupDeletes.Count > 0 || _startupMessageDeletes.Count > 0 || _startupRetainedDeletes.Count > 0)
                {
                    _dirty = _spareDirty ?? [];
                    _spareDirty = null;
                    _retained = [];
                    _waiting = _spareWaiting ?? [];
                    _spareWaiting = null;
                    _bans = [];
                    number = ++_number;
                    Volatile.Write(ref _started, number);
                }
                else
                {
                    number = 0;
                }
            }

            if (number != 0)
            {
                Take(sessions, retained, bans);
                sessions.Clear();
                _spareDirty = sessions;
            }

            Volatile.Write(ref _cutting, 0);

            if (number != 0)
            {
                unflushed |= Commit(number);
                var failed = Failure is not null;

                // The released packets are written on this thread, one flush per connection, as a read
                // loop writes what it queued: waking each connection's writer on the thread pool would
                // cost a thread switch per connection per batch.
                var scope = OutboundQueue.BeginBatch();
                try
                {
                    foreach (var connection in waiting)
                    {
                        if (failed)
                        {
                            connection.OnStoreFailed();
                        }
                        else
                        {
                            connection.ReleaseCommitted();
                        }
                    }
                }
                finally
                {
                    OutboundQueue.EndBatch(scope);
                }

                waiting.Clear();
                _spareWaiting = waiting;
            }

            if (unflushed && (stopping || _flushIntervalMs <= 0 || Environment.TickCount64 - lastFlush >= _flushIntervalMs))
            {
                TryFlush();
                unflushed = false;
                lastFlush = Environment.TickCount64;
            }

            if (stopping && number == 0)
            {
                return;
            }
        }
    }

    /// <summary>Inside the cut: every enlisted session's log and row, and the retained messages as they are now.</summary>
    private void Take(List<MqttSession> sessions, List<(string Topic, RetainedStore.Node Node)> retained, List<(BanKind Kind, string Value)> bans)
    {
        _taken.Clear();
        _retainedTaken.Clear();
        _bansTaken.Clear();
        foreach (var key in bans)
        {
            _bansTaken[key] = _broker.Bans.Find(key.Kind, key.Value);
        }

        foreach (var session in sessions)
        {
            var changes = session.TakeChanges(out var rowChanged, out var ended, out var expiry, out var disconnectedAt, out var will, out var willDue, out var identity);
            _taken.Add(new Taken(session, changes, rowChanged, ended, expiry, disconnectedAt, will, willDue, identity));
        }

        foreach (var (topic, node) in retained)
        {
            _retainedTaken.Add((topic, node, Volatile.Read(ref node.Message)));
        }
    }

    /// <summary>Builds and writes batch <paramref name="number"/> from what <see cref="Take"/> took; true when something was written.</summary>
    private bool Commit(long number)
    {
        var batch = _batch;
        batch.Clear();
        if (Failure is not null)
        {
            // After a lost batch the store no longer matches memory: nothing more is written until a
            // restart (what was taken is dropped so that it does not pile up).
            return false;
        }

        try
        {
            Build(number, batch);
            if (batch.Count == 0)
            {
                Volatile.Write(ref _committed, number);
                return false;
            }

            batch.WrittenUnixMs = _broker.Time.GetUtcNow().ToUnixTimeMilliseconds();
            _store.Write(batch);
            Interlocked.Add(ref _rows, batch.Count);
            Interlocked.Increment(ref _commits);
            Interlocked.Exchange(ref _lastCommitUnixMs, batch.WrittenUnixMs);
            Volatile.Write(ref _committed, number);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // What this batch held is not stored: the connections waiting on it are closed (their
            // clients resend what was not acknowledged) and new messages that need the store are refused.
            Volatile.Write(ref _failure, ex);
            Log.StoreWriteFailed(_logger, ex, _store.Location, ex.Message);
            return false;
        }
    }

    private void TryFlush()
    {
        try
        {
            _store.Flush();
            _flushFailing = false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Once per failure, not once per interval; after a failed write that one line said it all.
            if (!_flushFailing && Failure is null)
            {
                Log.StoreFlushFailed(_logger, ex, _store.Location, ex.Message);
            }

            _flushFailing = true;
        }
    }

    private void Build(long number, StoreBatch batch)
    {
        _touched.Clear();
        var nowUnix = _broker.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var nowMs = _broker.NowMs;
        if (_startupDeletes.Count > 0 || _startupMessageDeletes.Count > 0 || _startupRetainedDeletes.Count > 0)
        {
            batch.SessionsDeleted.AddRange(_startupDeletes);
            batch.RetainedDeleted.AddRange(_startupRetainedDeletes);
            batch.MessagesDeleted.AddRange(_startupMessageDeletes);
            _startupDeletes.Clear();
            _startupRetainedDeletes.Clear();
            _startupMessageDeletes.Clear();
        }

        foreach (var (session, changes, rowChanged, ended, expiry, disconnectedAt, will, willDue, identity) in _taken)
        {
            var state = session.StoreState ??= new StoredSessionState();
            if (ended)
            {
                if (!state.Deleted)
                {
                    state.Deleted = true;
                    batch.SessionsDeleted.Add(session.ClientId);
                    if (state.DeliveriesIfAny is { } stored)
                    {
                        foreach (var (_, message) in stored)
                        {
                            Release(message, number);
                        }

                        stored.Clear();
                    }
                }

                continue;
            }

            if (rowChanged)
            {
                batch.Sessions.Add(new StoredSession(
                    session.ClientId,
                    expiry,
                    disconnectedAt == long.MinValue ? null : nowUnix - (nowMs - disconnectedAt),
                    will is null ? null : new StoredWill(will.Topic, will.Payload, will.QoS, will.Retain, MqttPropertiesCodec.Encode(will.Properties)),
                    will is null || willDue == long.MinValue ? null : nowUnix - (nowMs - willDue),
                    identity?.Username,
                    identity?.Address?.ToString(),
                    identity?.Listener));
            }

            if (changes is not null)
            {
                AddChanges(session, state, changes, number, batch);
            }
        }

        foreach (var (topic, node, current) in _retainedTaken)
        {
            if (ReferenceEquals(current, node.Persisted))
            {
                continue;
            }

            if (node.Persisted is { } old)
            {
                node.Persisted = null;
                Release(old, number);
            }

            if (current is not null)
            {
                node.Persisted = current;
                AddRef(current, number);
                _retainedRows[topic] = current.StoreId;
            }
            else if (_broker.Retained.Find(topic) is null)
            {
                // Deleted, and no newer node holds the topic (one that does writes its own row).
                _retainedRows[topic] = 0;
            }
        }

        foreach (var ((kind, value), ban) in _bansTaken)
        {
            if (ban is null)
            {
                batch.BansDeleted.Add((kind, value));
            }
            else
            {
                batch.Bans.Add(ban);
            }
        }

        foreach (var (topic, id) in _retainedRows)
        {
            if (id == 0)
            {
                batch.RetainedDeleted.Add(topic);
            }
            else
            {
                batch.Retained.Add((topic, id));
            }
        }

        _retainedRows.Clear();

        foreach (var message in _touched)
        {
            if (message.StoreRefs > 0 && !message.StoreHasRow)
            {
                message.StoreHasRow = true;
                batch.MessagesInserted.Add(new StoredMessage(
                    message.StoreId,
                    message.Topic,
                    message.Payload,
                    message.QoS,
                    message.Retain,
                    MqttPropertiesCodec.Encode(message.Properties),
                    message.PublisherClientId,
                    nowUnix - (nowMs - message.CreatedTimestamp)));
            }
            else if (message.StoreRefs == 0 && message.StoreHasRow)
            {
                message.StoreHasRow = false;
                batch.MessagesDeleted.Add(message.StoreId);
            }
        }

        _touched.Clear();
        ReturnChangeLists();
        _taken.Clear();
        _retainedTaken.Clear();
        _bansTaken.Clear();
    }

    /// <summary>The change lists <see cref="Take"/> took, emptied, back to the pool (a large one is left to the collector).</summary>
    private void ReturnChangeLists()
    {
        _returnedLists.Clear();
        foreach (var taken in _taken)
        {
            if (taken.Changes is { Capacity: <= MaxPooledListCapacity } list)
            {
                list.Clear();
                _returnedLists.Add(list);
            }
        }

        if (_returnedLists.Count == 0)
        {
            return;
        }

        lock (_sync)
        {
            foreach (var list in _returnedLists)
            {
                if (_changeLists.Count >= MaxPooledLists)
                {
                    break;
                }

                _changeLists.Push(list);
            }
        }

        _returnedLists.Clear();
    }

    private void AddChanges(MqttSession session, StoredSessionState state, List<SessionChange> changes, long number, StoreBatch batch)
    {
        _subscriptions.Clear();
        _incoming.Clear();

        // Coalesced per delivery, the last change winning. A session's deliveries have consecutive
        // sequences, so those of one batch usually fit a small table indexed by sequence (no hashing);
        // a batch whose sequences are far apart (an old in-flight message and new ones) uses the map.
        var span = CollectionsMarshal.AsSpan(changes);
        long min = long.MaxValue, max = long.MinValue;
        var deliveryChanges = 0;
        foreach (ref readonly var change in span)
        {
            if (change.Kind <= SessionChangeKind.Removed)
            {
                min = Math.Min(min, change.Delivery.Sequence);
                max = Math.Max(max, change.Delivery.Sequence);
                deliveryChanges++;
            }
        }

        var direct = deliveryChanges > 0 && max - min < Math.Min((4L * deliveryChanges) + 64, MaxSlots);
        if (direct && _slots.Length <= max - min)
        {
            _slots = new int[Math.Max(_slots.Length * 2, (int)(max - min + 1))];
        }

        _pending.Clear();
        for (var index = 0; index < span.Length; index++)
        {
            ref readonly var change = ref span[index];
            switch (change.Kind)
            {
                case SessionChangeKind.Added:
                case SessionChangeKind.Sent:
                case SessionChangeKind.Released:
                case SessionChangeKind.Removed:
                    // The last change says it all: removed, or stored with its packet id and state.
                    if (direct)
                    {
                        _slots[change.Delivery.Sequence - min] = index + 1;
                    }
                    else
                    {
                        _pending[change.Delivery.Sequence] = index + 1;
                    }

                    break;
                case SessionChangeKind.IncomingAdded:
                case SessionChangeKind.IncomingRemoved:
                    var added = change.Kind == SessionChangeKind.IncomingAdded;
                    _incoming[change.PacketId] = _incoming.TryGetValue(change.PacketId, out var seen) ? (seen.FirstAdded, added) : (added, added);
                    break;
                case SessionChangeKind.Subscribed:
                    _subscriptions[change.Filter!] = change.Subscription;
                    break;
                case SessionChangeKind.Unsubscribed:
                    _subscriptions[change.Filter!] = null;
                    break;
            }
        }

        var clientId = session.ClientId;
        if (direct)
        {
            var slots = _slots.AsSpan(0, (int)(max - min + 1));
            for (var i = 0; i < slots.Length; i++)
            {
                if (slots[i] != 0)
                {
                    AddDelivery(clientId, state, min + i, span[slots[i] - 1], number, batch);
                    slots[i] = 0;
                }
            }
        }
        else
        {
            foreach (var (sequence, last) in _pending)
            {
                AddDelivery(clientId, state, sequence, span[last - 1], number, batch);
            }

            _pending.Clear();
        }

        foreach (var (packetId, (firstAdded, lastAdded)) in _incoming)
        {
            if (lastAdded)
            {
                batch.IncomingQoS2.Add((clientId, packetId));
            }
            else if (!firstAdded)
            {
                batch.IncomingQoS2Deleted.Add((clientId, packetId));
            }
        }

        foreach (var (filter, subscription) in _subscriptions)
        {
            if (subscription is null)
            {
                batch.SubscriptionsDeleted.Add((clientId, filter));
            }
            else
            {
                batch.Subscriptions.Add(new StoredSubscription(clientId, filter, subscription.Options, subscription.SubscriptionIdentifier));
            }
        }
    }

    /// <summary>One delivery's state at the end of the batch (its last change): written, or deleted if it was stored.</summary>
    private void AddDelivery(string clientId, StoredSessionState state, long sequence, in SessionChange last, long number, StoreBatch batch)
    {
        if (last.Kind == SessionChangeKind.Removed)
        {
            if (state.DeliveriesIfAny?.Remove(sequence, out var message) == true)
            {
                batch.DeliveriesDeleted.Add((clientId, sequence));
                Release(message, number);
            }

            return;
        }

        var delivery = last.Delivery;
        if (state.Deliveries.TryAdd(sequence, delivery.Message))
        {
            AddRef(delivery.Message, number);
        }

        batch.Deliveries.Add(new StoredDelivery(
            clientId,
            sequence,
            delivery.Message.StoreId,
            delivery.QoS,
            delivery.Retain,
            delivery.SubscriptionIds,
            delivery.Group is { } group ? $"$share/{group.Name}/{group.Filter}" : null,
            last.PacketId,
            last.Released));
    }

    private void AddRef(ApplicationMessage message, long number)
    {
        if (message.StoreId == 0)
        {
            message.StoreId = ++_nextMessageId;
        }

        message.StoreRefs++;
        Touch(message, number);
    }

    private void Release(ApplicationMessage message, long number)
    {
        message.StoreRefs--;
        Touch(message, number);
    }

    private void Touch(ApplicationMessage message, long number)
    {
        if (message.StoreTouchedIn != number)
        {
            message.StoreTouchedIn = number;
            _touched.Add(message);
        }
    }

    /// <summary>One session's changes taken for a batch, with its row as it was then.</summary>
    private readonly record struct Taken(
        MqttSession Session,
        List<SessionChange>? Changes,
        bool RowChanged,
        bool Ended,
        uint Expiry,
        long DisconnectedAt,
        WillMessage? Will,
        long WillDue,
        ClientIdentity? Identity);
}
