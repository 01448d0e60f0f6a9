namespace Tern.Broker.Tests.Model;

/// <summary>What every actor of one run shares: the model, the broker's port and its in-flight window.</summary>
internal sealed class ModelContext(ModelState model, int port, int maxInflight, KnownFailures knownFailures)
{
    public ModelState Model { get; } = model;

    public int Port { get; } = port;

    /// <summary>Broker:MaxInflight of the run: the most unacknowledged PUBLISHes the broker may send a client.</summary>
    public int MaxInflight { get; } = maxInflight;

    /// <summary>The areas where the broker is known to break a promise today that this run exercises anyway.</summary>
    public KnownFailures KnownFailures { get; } = knownFailures;

    public bool Exercises(KnownFailures area) => (KnownFailures & area) != 0;

    /// <summary>Every PUBLISH received and acknowledgement sent goes into the trace too (TERN_MODEL_TRACE_PACKETS=1).</summary>
    public bool TracePackets { get; } = Environment.GetEnvironmentVariable("TERN_MODEL_TRACE_PACKETS") == "1";
}
