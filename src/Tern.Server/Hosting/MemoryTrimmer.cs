using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Hosting;

/// <summary>The <c>Memory</c> section.</summary>
internal sealed class MemoryOptions
{
    public const string SectionName = "Memory";

    /// <summary>
    /// Growth of the resident memory (MiB) since the last trim after which a quiet broker compacts its
    /// heap and returns the free memory to the system; 0 turns it off.
    /// </summary>
    public int TrimAfterMiB { get; set; } = 16;

    public void Validate()
    {
        if (TrimAfterMiB < 0)
        {
            throw new ArgumentException("Memory:TrimAfterMiB must be 0 (off) or more.");
        }
    }
}

/// <summary>
/// Gives back what a burst leaves behind. A connect storm (or restoring a large store) allocates far
/// more than it keeps, and then the broker idles: with little allocated, the GC has no reason to
/// run, so the burst's garbage and the free space of the heap stay resident (about 1 KB per
/// connection after a storm). Once the resident memory has grown by <see cref="MemoryOptions.TrimAfterMiB"/>
/// (or a tenth, when that is more) since the last trim, the first second in which the process
/// allocates less than <see cref="QuietBytes"/> runs one blocking, compacting collection that
/// decommits the free memory. It pauses the process (milliseconds per ten thousand connections), only
/// after growth, and never while the broker is busy: a busy broker collects on its own.
/// </summary>
internal sealed partial class MemoryTrimmer(MemoryOptions options, ILogger<MemoryTrimmer> logger) : BackgroundService
{
    /// <summary>Allocated in one second by a broker that is quiet (an idle broker holding 20,000 connections allocates tens of KiB).</summary>
    internal const long QuietBytes = 1 << 20;

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.TrimAfterMiB == 0)
        {
            return;
        }

        var threshold = (long)options.TrimAfterMiB << 20;

        // Starting is a burst too (JIT, configuration, restoring the store): the first quiet second trims it.
        long trimmedAt = 0;
        var allocated = GC.GetTotalAllocatedBytes();
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var now = GC.GetTotalAllocatedBytes();
                var quiet = now - allocated < QuietBytes;
                allocated = now;
                if (!quiet)
                {
                    continue;
                }

                var resident = ResidentBytes();
                if (resident - trimmedAt < Math.Max(threshold, trimmedAt / 10))
                {
                    continue;
                }

                trimmedAt = Trim(resident);
                allocated = GC.GetTotalAllocatedBytes();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private long Trim(long before)
    {
        var started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var paused = Stopwatch.GetElapsedTime(started);
        var after = ResidentBytes();
        Trimmed(logger, Mib(before), Mib(after), Mib(GC.GetGCMemoryInfo().HeapSizeBytes), paused.TotalMilliseconds);
        return after;
    }

    /// <summary>The process's resident set (RSS).</summary>
    private static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private static double Mib(long bytes) => Math.Round(bytes / 1048576.0, 1);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Memory trimmed after growth: resident {Before} MiB -> {After} MiB (managed heap {Heap} MiB), paused {PauseMs:0.#} ms")]
    private static partial void Trimmed(ILogger logger, double before, double after, double heap, double pauseMs);
}
