using System.Diagnostics;

namespace Tern.Cli.Bench;

/// <summary>
/// A slow subscriber (<c>--sub-rate</c>): it takes at most this many messages a second, each read,
/// acknowledged and counted only when a token is there. Tokens accrue evenly and at most 100 ms
/// worth wait, so a late wake-up on a busy machine is made up (the rate holds on average) and a
/// longer pause is not. What it has not taken stays in its socket, and the broker's queue for it
/// grows.
/// </summary>
internal sealed class ReceiveThrottle
{
    private readonly double _perTick;
    private readonly double _burst;
    private double _tokens;
    private long _last = Stopwatch.GetTimestamp();

    public ReceiveThrottle(double messagesPerSecond)
    {
        _perTick = messagesPerSecond / Stopwatch.Frequency;
        _burst = Math.Max(1, messagesPerSecond / 10);
    }

    /// <summary>Messages that may be taken now.</summary>
    public long Available()
    {
        long now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + ((now - _last) * _perTick));
        _last = now;
        return (long)_tokens;
    }

    public void Take(long messages) => _tokens -= messages;

    /// <summary>How long until the next message may be taken (at least 1 ms: the sleep's resolution).</summary>
    public TimeSpan UntilNext()
    {
        double ticks = (1 - _tokens) / _perTick;
        return TimeSpan.FromMilliseconds(Math.Max(1, ticks * 1000 / Stopwatch.Frequency));
    }
}
