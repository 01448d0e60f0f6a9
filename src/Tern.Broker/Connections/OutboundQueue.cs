using System.Threading.Tasks.Sources;

namespace Tern.Broker;

/// <summary>
/// The packets waiting for one connection's writer: any thread adds, the writer takes them all at once.
/// <para>
/// Waking the writer is what costs at a steady rate (a thread pool hop per message, and on one core a
/// context switch). So a producer that is a read loop handling a read (see <see cref="BeginBatch"/>)
/// does not wake writers as it goes: it collects them, and at the end of the read runs each writer
/// inline on its own thread (<see cref="EndBatch"/>), which writes everything queued with one flush
/// and returns when the writer waits again. Any other producer (timers, takeover, async handlers)
/// wakes the writer on the thread pool.
/// </para>
/// <para>
/// One waiting item sits in a field; a queue is allocated only when more wait at once, so an idle
/// connection holds none. The object is its own lock (it is never exposed): one object less per
/// connection.
/// </para>
/// <para>
/// A writer that waited a whole timer tick with nothing added is parked (<see cref="TryPark"/>): it
/// returns, so an idle connection keeps no writer frame, and the next item or
/// <see cref="Complete"/> starts a new one (<see cref="MqttConnection.RestartWriter"/>, under this
/// lock, so that whoever reads the connection's writer afterwards sees the running one).
/// </para>
/// </summary>
internal sealed class OutboundQueue : IValueTaskSource<bool>, IThreadPoolWorkItem
{
    [ThreadStatic]
    private static List<OutboundQueue>? t_batch;

    [ThreadStatic]
    private static List<OutboundQueue>? t_spare;

    [ThreadStatic]
    private static bool t_inline;

    private readonly MqttConnection? _owner;
    private OutboundItem _single;
    private bool _hasSingle;
    private Queue<OutboundItem>? _items;
    private bool _completed;
    private bool _waiting;
    private bool _parked;           // the writer returned; the next item or Complete starts another
    private bool _added;            // an item came since the last TryPark

    // Continuations run where SetResult is called: inline at the end of a read, or on the thread pool.
    private ManualResetValueTaskSourceCore<bool> _signal;

    /// <summary>A queue whose writer can be parked and restarted by <paramref name="owner"/>; none without one.</summary>
    public OutboundQueue(MqttConnection? owner = null) => _owner = owner;

    /// <summary>False once <see cref="Complete"/> was called: the item is not queued.</summary>
    public bool TryAdd(in OutboundItem item)
    {
        bool wake;
        lock (this)
        {
            if (_completed)
            {
                return false;
            }

            if (!_hasSingle && _items is not { Count: > 0 })
            {
                _single = item;
                _hasSingle = true;
            }
            else
            {
                (_items ??= new Queue<OutboundItem>(4)).Enqueue(item);
            }

            _added = true;
            wake = _waiting;
            _waiting = false;
            if (_parked)
            {
                _parked = false;
                _owner!.RestartWriter();
            }
        }

        if (wake)
        {
            if (t_batch is { } batch)
            {
                batch.Add(this);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        return true;
    }

    /// <summary>No more items; the writer takes what is queued and then sees the end.</summary>
    public void Complete()
    {
        bool wake;
        lock (this)
        {
            _completed = true;
            wake = _waiting;
            _waiting = false;
            if (_parked)
            {
                // A new writer takes what is queued, then sees the end.
                _parked = false;
                _owner!.RestartWriter();
            }
        }

        if (wake)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>
    /// Takes everything queued: the oldest item in <paramref name="first"/> when <paramref name="hasFirst"/>,
    /// then any others in <paramref name="into"/> (the writer's queue, swapped with the storage). False when
    /// nothing is queued.
    /// </summary>
    public bool TryTakeAll(ref Queue<OutboundItem>? into, out OutboundItem first, out bool hasFirst)
    {
        lock (this)
        {
            first = _single;
            hasFirst = _hasSingle;
            _single = default;
            _hasSingle = false;
            if (_items is { Count: > 0 })
            {
                (into, _items) = (_items, into);
                return true;
            }

            return hasFirst;
        }
    }

    /// <summary>
    /// Waits until an item may be queued (true: take again) or the queue is completed and empty
    /// (false). One writer calls this, after <see cref="TryTakeAll"/> found nothing.
    /// </summary>
    public ValueTask<bool> WaitAsync()
    {
        lock (this)
        {
            if (_hasSingle)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            _signal.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _signal.Version);
        }
    }

    /// <summary>
    /// From the broker's timer: if the writer has waited since the last call with nothing added,
    /// ends its wait with false (it returns, as at the end) and marks the queue parked. True if it did.
    /// </summary>
    public bool TryPark()
    {
        lock (this)
        {
            var idle = !_added;
            _added = false;
            if (_owner is null || !idle || !_waiting || _completed || _hasSingle)
            {
                return false;
            }

            _waiting = false;
            _parked = true;
            _owner.OnWriterParked();
        }

        _signal.SetResult(false);
        return true;
    }

    /// <summary>
    /// The writer's last call when its wait ended with false: a parked queue lets go of the writer's
    /// continuation (the value-task source keeps it until reset), so nothing references its frame.
    /// </summary>
    public void OnWriterReturned()
    {
        lock (this)
        {
            // Still parked: no new writer can be waiting on the source yet.
            if (_parked)
            {
                _signal.Reset();
            }
        }
    }

    /// <summary>
    /// From here to <see cref="EndBatch"/> (no await in between) this thread collects the writers it
    /// should wake. Scopes nest: a read loop can resume inline inside another one's batch (a pipe's
    /// cancelled read with inline scheduling), so each scope has its own list.
    /// </summary>
    public static BatchScope BeginBatch()
    {
        var scope = new BatchScope(t_batch, t_spare ?? []);
        t_spare = null;
        t_batch = scope.Wakes;
        return scope;
    }

    /// <summary>Stops collecting and runs each collected writer inline until it waits again.</summary>
    public static void EndBatch(in BatchScope scope)
    {
        t_batch = scope.Outer;
        var wakes = scope.Wakes;
        var outer = t_inline;
        t_inline = true;
        try
        {
            for (var i = 0; i < wakes.Count; i++)
            {
                wakes[i]._signal.SetResult(true);
            }
        }
        finally
        {
            t_inline = outer;
        }

        wakes.Clear();
        t_spare = wakes;
    }

    /// <summary>
    /// The writer runs inline on a read loop's thread (<see cref="EndBatch"/>). It then writes one
    /// batch and leaves the rest to the thread pool, so a busy subscriber cannot keep a publisher's
    /// thread from its own reads.
    /// </summary>
    public static bool RunningInline => t_inline;

    /// <summary>The writer is parked (a snapshot).</summary>
    public bool IsParked
    {
        get
        {
            lock (this)
            {
                return _parked;
            }
        }
    }

    /// <summary>Items are queued (a snapshot).</summary>
    public bool HasItems
    {
        get
        {
            lock (this)
            {
                return _hasSingle;
            }
        }
    }

    internal readonly record struct BatchScope(List<OutboundQueue>? Outer, List<OutboundQueue> Wakes);

    void IThreadPoolWorkItem.Execute() => _signal.SetResult(true);

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _signal.OnCompleted(continuation, state, token, flags);
}
