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

    public void AddExpected(long deliveries) => Interlocked.Add(ref _expected, deliveries);

    public void AddReceived(long deliveries) => Interlocked.Add(ref _received, deliveries);
}
