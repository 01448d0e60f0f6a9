namespace Tern.Cli.Bench;

/// <summary>
/// Closes the loop in <c>pubsub</c> at full speed: publishers add the deliveries each message should
/// cause (its matching subscribers), subscribers add what they received, and a publisher pauses while
/// more than <see cref="MaxLag"/> deliveries are on the way. So "max" means the highest rate the broker
/// delivers, not the rate at which it can buffer or drop (a broker that drops still shows as loss).
/// </summary>
internal sealed class FlowControl
{
    private long _expected;
    private long _received;

    public FlowControl(long maxLag) => MaxLag = maxLag;

    public long MaxLag { get; }

    public long Lag => Volatile.Read(ref _expected) - Volatile.Read(ref _received);

    /// <summary>
    /// Reserves room for up to <paramref name="messages"/> messages of <paramref name="deliveriesEach"/>
    /// deliveries each; returns how many fit (0: wait). Reservations are atomic, so publishers together
    /// never put more than <see cref="MaxLag"/> on the way. Return unused room with <see cref="Release"/>.
    /// </summary>
    public long TryReserve(long messages, long deliveriesEach)
    {
        deliveriesEach = Math.Max(1, deliveriesEach);
        while (true)
        {
            long expected = Volatile.Read(ref _expected);
            long room = MaxLag - (expected - Volatile.Read(ref _received));
            long n = Math.Min(messages, room / deliveriesEach);
            if (n <= 0)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _expected, expected + (n * deliveriesEach), expected) == expected)
            {
                return n;
            }
        }
    }

    public void Release(long deliveries) => Interlocked.Add(ref _expected, -deliveries);

    public void AddReceived(long deliveries) => Interlocked.Add(ref _received, deliveries);
}
