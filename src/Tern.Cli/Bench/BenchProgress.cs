using System.Diagnostics;
using System.Globalization;

namespace Tern.Cli.Bench;

/// <summary>Prints one line a second: elapsed time, send and receive rates, latency of that second.</summary>
internal sealed class BenchProgress
{
    private readonly TextWriter _out;

    public BenchProgress(TextWriter output) => _out = output;

    public async Task RunAsync(Func<long> sent, Func<long> received, LatencyHistogram latency, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long lastSent = sent(), lastReceived = received();
        var lastLatency = latency.Snapshot();
        var lastTime = TimeSpan.Zero;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await TickAsync(timer, ct).ConfigureAwait(false))
        {
            var now = clock.Elapsed;
            double seconds = (now - lastTime).TotalSeconds;
            long s = sent(), r = received();
            var snapshot = latency.Snapshot();
            var interval = snapshot.Minus(lastLatency);
            string line = string.Create(
                CultureInfo.InvariantCulture,
                $"[{now.TotalSeconds,5:F0}s] sent {(s - lastSent) / seconds,12:N0}/s  received {(r - lastReceived) / seconds,12:N0}/s");
            if (interval.Count > 0)
            {
                line += string.Create(
                    CultureInfo.InvariantCulture,
                    $"  latency p50 {BenchOutput.Micros(interval.PercentileMicros(50))}  p99 {BenchOutput.Micros(interval.PercentileMicros(99))}");
            }

            await _out.WriteLineAsync(line).ConfigureAwait(false);
            (lastSent, lastReceived, lastLatency, lastTime) = (s, r, snapshot, now);
        }
    }

    private static async Task<bool> TickAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
