using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tern.Cli.Bench;

/// <summary>
/// Sends a fixed rate from one thread. Message k of the run is due at start + k / rate and goes to the
/// next publisher in turn, so the broker sees evenly spaced messages. (Publishers that each wake on the
/// 1 ms timer send a burst from all of them at once; the burst queues in the broker and is measured as
/// the broker's latency.) Behind schedule, the owed messages go out at once (no coordinated omission).
/// </summary>
internal sealed partial class Pacer
{
    private readonly BenchPublisher[] _publishers;
    private readonly double _rate;

    public Pacer(IReadOnlyList<BenchPublisher> publishers, double rate)
    {
        _publishers = [.. publishers];
        _rate = rate;
    }

    /// <summary>Runs on a dedicated thread until <paramref name="stop"/> or every publisher reached its limit.</summary>
    public Task RunAsync(CancellationToken stop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(stop);
            }
            finally
            {
                done.SetResult();
            }
        })
        {
            IsBackground = true,
            Name = "bench-pacer",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return done.Task;
    }

    private void Run(CancellationToken stop)
    {
        Clock.TightenTimerSlack();
        long start = Stopwatch.GetTimestamp();
        double ticksPerMessage = Stopwatch.Frequency / _rate;
        long dispatched = 0;
        int next = 0;
        while (!stop.IsCancellationRequested)
        {
            long due = (long)((Stopwatch.GetTimestamp() - start) / ticksPerMessage) + 1;
            if (due <= dispatched)
            {
                Clock.SleepUntil(start + (long)(dispatched * ticksPerMessage));
                continue;
            }

            long owed = due - dispatched;
            bool sent = false, open = false;
            for (var i = 0; i < _publishers.Length && owed > 0; i++)
            {
                var publisher = _publishers[next];
                next = next + 1 == _publishers.Length ? 0 : next + 1;
                if (publisher.Finished)
                {
                    continue;
                }

                open = true;
                long share = (owed + _publishers.Length - i - 1) / (_publishers.Length - i);
                int n = publisher.SendNow((int)Math.Min(share, int.MaxValue));
                dispatched += n;
                owed -= n;
                sent |= n > 0;
            }

            if (!open && AllFinished())
            {
                return;
            }

            if (!sent)
            {
                // Every publisher waits for acknowledgements or for the subscribers to catch up.
                Clock.SleepUntil(Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 20_000));
            }
        }
    }

    private bool AllFinished()
    {
        foreach (var p in _publishers)
        {
            if (!p.Finished)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Sleeps to an absolute deadline with microsecond precision where the OS allows it.</summary>
    private static partial class Clock
    {
        private const int ClockMonotonic = 1;
        private const int TimerAbsolute = 1;
        private const int SetTimerSlack = 29;

        // Stopwatch on Linux is CLOCK_MONOTONIC in nanoseconds, so its timestamps are clock_nanosleep deadlines.
        private static readonly bool s_nanosleep = OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000;

        /// <summary>The default 50 µs timer slack would be as long as the gap between two messages at 20,000/s.</summary>
        public static void TightenTimerSlack()
        {
            if (s_nanosleep)
            {
                _ = Prctl(SetTimerSlack, 1, 0, 0, 0);
            }
        }

        public static void SleepUntil(long timestamp)
        {
            if (s_nanosleep)
            {
                var deadline = new Timespec { Seconds = timestamp / 1_000_000_000, Nanoseconds = timestamp % 1_000_000_000 };
                _ = ClockNanosleep(ClockMonotonic, TimerAbsolute, in deadline, IntPtr.Zero);
                return;
            }

            long remaining = timestamp - Stopwatch.GetTimestamp();
            if (remaining > Stopwatch.Frequency / 500)
            {
                Thread.Sleep(1);
            }
            else if (remaining > 0)
            {
                Thread.Yield();
            }
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
        private static partial int ClockNanosleep(int clock, int flags, in Timespec request, IntPtr remain);

        [LibraryImport("libc", EntryPoint = "prctl")]
        private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    }
}
