namespace Tern.Broker.Persistence;

/// <summary>
/// Where the broker keeps what must outlive the process: persistent sessions (expiry interval above
/// 0) with their subscriptions, queued and in-flight messages and incoming QoS 2 ids, retained
/// messages and delayed wills. The broker calls it from one dedicated writer thread, one batch at a
/// time, and reads it once, at start, before it accepts a client.
/// </summary>
public interface IBrokerStore : IDisposable
{
    /// <summary>Everything stored, for the broker to rebuild its state from.</summary>
    StoredState Load();

    /// <summary>
    /// Applies <paramref name="batch"/> atomically: when this returns, all of it survives the end of the
    /// process (and, if the store promises it, a loss of power); when it throws, none of it is applied.
    /// </summary>
    void Write(StoreBatch batch);

    /// <summary>Makes what was written survive a loss of power (called every few hundred milliseconds while there are writes).</summary>
    void Flush();

    /// <summary>Bytes the store takes on disk.</summary>
    long SizeBytes { get; }

    /// <summary>Where it is, for messages (a path).</summary>
    string Location { get; }
}
