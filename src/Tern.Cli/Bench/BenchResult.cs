namespace Tern.Cli.Bench;

/// <summary>The summary of one run; <see cref="BenchOutput"/> prints it as a table or JSON.</summary>
internal sealed record BenchResult
{
    public required string Mode { get; init; }

    public int Publishers { get; init; }

    public int Subscribers { get; init; }

    /// <summary>Topics published to (publishers × topics each).</summary>
    public long Topics { get; init; }

    /// <summary>Filters subscribed to (subscribers × filters each).</summary>
    public long Subscriptions { get; init; }

    public int QoS { get; init; }

    /// <summary>pubsub: messages a second each subscriber takes (<c>--sub-rate</c>); 0: as fast as it can.</summary>
    public double SubscriberRate { get; init; }

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

    /// <summary>QoS 1/2: messages the broker acknowledged to the publishers (PUBACK, PUBCOMP); -1 at QoS 0.</summary>
    public long Acked { get; init; } = -1;

    /// <summary>
    /// pubsub at QoS 1/2: deliveries owed for acknowledged messages (one per matching subscriber) that
    /// never arrived, by message: the broker's broken promises. -1 when not known.
    /// </summary>
    public long AckedNotDelivered { get; init; } = -1;

    /// <summary>How long the drain after the window took.</summary>
    public double DrainSeconds { get; init; }

    /// <summary>Why the drain ended: complete (all expected and acknowledged), quiet (nothing for 1 s) or limit.</summary>
    public string? DrainEnd { get; init; }

    /// <summary>pubsub --churn: the requested subscribes and unsubscribes a second (0: no churn).</summary>
    public double ChurnRate { get; init; }

    public int ChurnClients { get; init; }

    /// <summary>SUBSCRIBE and UNSUBSCRIBE requests acknowledged during the window.</summary>
    public long ChurnOperations { get; init; }

    public double ChurnOperationsPerSecond { get; init; }

    /// <summary>Churn requests refused, unanswered or cut off.</summary>
    public long ChurnFailures { get; init; }

    /// <summary>Messages the churn connections received while subscribed (not counted as received).</summary>
    public long ChurnDeliveries { get; init; }

    public double ChurnLatencyP50Micros { get; init; } = double.NaN;

    public double ChurnLatencyP99Micros { get; init; } = double.NaN;

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

    /// <summary>false with <c>-c</c>: every publisher and subscriber (connection, for conn) had a persistent session.</summary>
    public bool CleanSession { get; init; } = true;

    /// <summary><c>-c</c>: persistent sessions ended after the run (a clean connect per id); -1 without <c>-c</c>.</summary>
    public long SessionsEnded { get; init; } = -1;

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
