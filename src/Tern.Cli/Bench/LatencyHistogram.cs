using System.Diagnostics;
using System.Numerics;

namespace Tern.Cli.Bench;

/// <summary>
/// A log-linear histogram of latencies in nanoseconds (128 sub-buckets per power of two: under 0.8 %
/// error), shared by all subscribers of a run: <see cref="Record"/> is one interlocked increment.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 128;
    private const int BucketCount = 256 + (40 * SubBuckets);
    private static readonly double NanosPerTick = 1e9 / Stopwatch.Frequency;
    private readonly long[] _counts;

    public LatencyHistogram()
        : this(new long[BucketCount])
    {
    }

    private LatencyHistogram(long[] counts) => _counts = counts;

    public long Count
    {
        get
        {
            long n = 0;
            foreach (long c in _counts)
            {
                n += c;
            }

            return n;
        }
    }

    /// <summary>Records one latency given as a <see cref="Stopwatch"/> tick difference.</summary>
    public void RecordTicks(long ticks)
    {
        long nanos = (long)(ticks * NanosPerTick);
        Interlocked.Increment(ref _counts[Index(nanos < 0 ? 0 : nanos)]);
    }

    /// <summary>A copy of the counts so far.</summary>
    public LatencyHistogram Snapshot()
    {
        var copy = new long[_counts.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _counts[i]);
        }

        return new LatencyHistogram(copy);
    }

    /// <summary>This snapshot minus an earlier one: the latencies recorded in between.</summary>
    public LatencyHistogram Minus(LatencyHistogram earlier)
    {
        var diff = new long[_counts.Length];
        for (var i = 0; i < diff.Length; i++)
        {
            diff[i] = _counts[i] - earlier._counts[i];
        }

        return new LatencyHistogram(diff);
    }

    /// <summary>The latency in microseconds at <paramref name="percentile"/> (0-100), or NaN when empty.</summary>
    public double PercentileMicros(double percentile)
    {
        long total = Count;
        if (total == 0)
        {
            return double.NaN;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(total * percentile / 100.0));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return UpperBound(i) / 1000.0;
            }
        }

        return UpperBound(_counts.Length - 1) / 1000.0;
    }

    public double MaxMicros()
    {
        for (var i = _counts.Length - 1; i >= 0; i--)
        {
            if (_counts[i] > 0)
            {
                return UpperBound(i) / 1000.0;
            }
        }

        return double.NaN;
    }

    private static int Index(long nanos)
    {
        if (nanos < 256)
        {
            return (int)nanos;
        }

        int msb = 63 - BitOperations.LeadingZeroCount((ulong)nanos);
        int shift = msb - 7;
        int index = 256 + ((shift - 1) * SubBuckets) + (int)((nanos >> shift) - SubBuckets);
        return Math.Min(index, BucketCount - 1);
    }

    private static long UpperBound(int index)
    {
        if (index < 256)
        {
            return index;
        }

        int shift = ((index - 256) / SubBuckets) + 1;
        long sub = ((index - 256) % SubBuckets) + SubBuckets;
        return ((sub + 1) << shift) - 1;
    }
}
