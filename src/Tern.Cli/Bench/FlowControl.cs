namespace Tern.Cli.Bench;

/// <summary>
/// Closes the loop in <c>pubsub</c>: each publisher reserves the deliveries a message should cause (its
/// matching subscribers), subscribers give them back as they receive (the stream id in the payload names
/// the publisher), and a publisher pauses while its budget is on the way. So "max" means the highest rate
/// the broker delivers, not the rate at which it can buffer or drop (a broker that drops still shows as
/// loss). The budgets are sized so that no subscriber can have more than <c>--max-lag</c> messages on
/// their way: the largest number of publishers one subscriber hears from share it. Set at or below the
/// broker's queue bound per subscriber, a loss is then the broker's, not the tool's. The budget is per
/// publisher: a global one lets a publisher whose subscribers lag run far ahead while the others wait,
/// which overflows those subscribers' queues (a test of the broker's queue bound, not of its speed).
/// </summary>
internal sealed class FlowControl
{
    // One cache line (and then some) per publisher: its counter is written by it and by the subscribers.
    private const int Stride = 16;
    private readonly long[] _outstanding;
    private readonly int[] _waiting;
    private readonly SemaphoreSlim[] _room;
    private readonly long[] _budget;
    private readonly int _topicsPerPublisher;

    /// <param name="maxLag">Messages that may be on their way to any one subscriber.</param>
    /// <param name="fanout">Per publisher, the matching subscribers of each of its topics.</param>
    /// <param name="sharing">The most publishers any one subscriber hears from.</param>
    public FlowControl(long maxLag, int[][] fanout, int sharing)
    {
        _topicsPerPublisher = Math.Max(1, fanout.Length > 0 ? fanout[0].Length : 1);
        _outstanding = new long[Math.Max(1, fanout.Length) * Stride];
        _budget = new long[fanout.Length];
        _waiting = new int[Math.Max(1, fanout.Length) * Stride];
        _room = new SemaphoreSlim[fanout.Length];
        for (var p = 0; p < _room.Length; p++)
        {
            _room[p] = new SemaphoreSlim(0);
        }

        for (var p = 0; p < fanout.Length; p++)
        {
            // At least one message of the publisher's widest fan-out must fit.
            _budget[p] = Math.Max(maxLag / Math.Max(1, sharing), fanout[p].DefaultIfEmpty(1).Max());
            TotalBudget += _budget[p];
        }
    }

    /// <summary>Deliveries that may be on their way from all publishers together.</summary>
    public long TotalBudget { get; }

    /// <summary>
    /// Reserves room for up to <paramref name="messages"/> messages of <paramref name="deliveriesEach"/>
    /// deliveries each; returns how many fit (0: wait). Return unused room with <see cref="Release"/>.
    /// </summary>
    public long TryReserve(int publisher, long messages, long deliveriesEach)
    {
        deliveriesEach = Math.Max(1, deliveriesEach);
        ref long outstanding = ref _outstanding[publisher * Stride];
        while (true)
        {
            long current = Volatile.Read(ref outstanding);
            long n = Math.Min(messages, (_budget[publisher] - current) / deliveriesEach);
            if (n <= 0)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref outstanding, current + (n * deliveriesEach), current) == current)
            {
                return n;
            }
        }
    }

    public void Release(int publisher, long deliveries) => Interlocked.Add(ref _outstanding[publisher * Stride], -deliveries);

    /// <summary>
    /// Waits until half of <paramref name="publisher"/>'s budget is free again (or 10 ms, a safety net
    /// for deliveries that never come back: a broker that drops).
    /// </summary>
    public async Task WaitForRoomAsync(int publisher, CancellationToken ct)
    {
        Volatile.Write(ref _waiting[publisher * Stride], 1);
        if (Volatile.Read(ref _outstanding[publisher * Stride]) <= _budget[publisher] / 2)
        {
            Volatile.Write(ref _waiting[publisher * Stride], 0);
            return;
        }

        try
        {
            await _room[publisher].WaitAsync(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Ends <paramref name="publisher"/>'s wait for room early: it has something else to send.</summary>
    public void Wake(int publisher)
    {
        int slot = publisher * Stride;
        if (Volatile.Read(ref _waiting[slot]) == 1 && Interlocked.Exchange(ref _waiting[slot], 0) == 1)
        {
            _room[publisher].Release();
        }
    }

    /// <summary>A subscriber received a message of payload stream <paramref name="stream"/>.</summary>
    public void Received(uint stream)
    {
        long publisher = stream / (uint)_topicsPerPublisher;
        if (publisher >= _budget.Length)
        {
            return;
        }

        int slot = (int)publisher * Stride;
        long outstanding = Interlocked.Decrement(ref _outstanding[slot]);
        if (outstanding <= _budget[publisher] / 2 && Volatile.Read(ref _waiting[slot]) == 1
            && Interlocked.Exchange(ref _waiting[slot], 0) == 1)
        {
            _room[publisher].Release();
        }
    }
}
