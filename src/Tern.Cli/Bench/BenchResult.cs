namespace Tern.Cli.Bench;

/// <summary>The summary of one run; <see cref="BenchOutput"/> prints it as a table or JSON.</summary>
internal sealed record BenchResult
{
    public required string Mode { get; init; }

    public int Publishers { get; init; }

    public int Subscribers { get; init; }

    public int QoS { get; init; }

    public int PayloadSize { get; init; }

    /// <summary>pubsub: messages that may be on their way to one subscriber (0: open loop); -1 otherwise.</summary>
    public long MaxLag { get; init; } = -1;

    /// <summary>The measured window: the duration, or until the last message was sent (or Ctrl+C). Rates are over it.</summary>
    public double Seconds { get; init; }

    public long Sent { get; init; }

    public double SentPerSecond { get; init; }

    /// <summary>Deliveries the subscribers should have seen (pubsub mode: sent × matching subscribers); -1 when unknown.</summary>
    public long Expected { get; init; } = -1;

    /// <summary>This run's messages received, in the window and during the drain.</summary>
    public long Received { get; init; }

    /// <summary>Received during the window, per second of it.</summary>
    public double ReceivedPerSecond { get; init; }

    /// <summary>Of <see cref="Received"/>, those that arrived after the window (during the drain): they count against loss, not towards the rate.</summary>
    public long ReceivedLate { get; init; }

    /// <summary>Expected minus received (pubsub); otherwise the sequence gaps.</summary>
    public long Lost { get; init; }

    public long Gaps { get; init; }

    public long Duplicates { get; init; }

    /// <summary>Deliveries with the retain flag (stored before the run), not counted as received.</summary>
    public long IgnoredRetained { get; init; }

    /// <summary>Deliveries from other clients (no benchmark header, or another run's), not counted as received.</summary>
    public long IgnoredForeign { get; init; }

    public long Latencies { get; init; }

    public double LatencyP50Micros { get; init; } = double.NaN;

    public double LatencyP90Micros { get; init; } = double.NaN;

    public double LatencyP99Micros { get; init; } = double.NaN;

    public double LatencyP999Micros { get; init; } = double.NaN;

    public double LatencyMaxMicros { get; init; } = double.NaN;

    public long Connected { get; init; }

    public long ConnectFailures { get; init; }

    public double ConnectsPerSecond { get; init; }

    public long ClientErrors { get; init; }

    /// <summary>The load generator's own CPU over the run, in % of one core: near 100 × its cores, it may be the limit.</summary>
    public double LoadCpuPercent { get; init; } = double.NaN;

    public string? FirstError { get; init; }

    public BenchResult WithLatency(LatencyHistogram h) => this with
    {
        Latencies = h.Count,
        LatencyP50Micros = h.PercentileMicros(50),
        LatencyP90Micros = h.PercentileMicros(90),
        LatencyP99Micros = h.PercentileMicros(99),
        LatencyP999Micros = h.PercentileMicros(99.9),
        LatencyMaxMicros = h.MaxMicros(),
    };
}
