namespace Tern.Server.Persistence;

/// <summary>How much a store holds (rows of each kind), as <c>tern data check</c> prints it.</summary>
/// <param name="Sessions">Persistent sessions.</param>
/// <param name="Subscriptions">Their subscriptions.</param>
/// <param name="Deliveries">Queued and in-flight messages of the sessions.</param>
/// <param name="IncomingQoS2">QoS 2 packet ids the sessions received and await PUBREL for.</param>
/// <param name="Messages">Messages, each stored once however many deliveries and retained entries hold it.</param>
/// <param name="PayloadBytes">The messages' payloads together.</param>
/// <param name="Retained">Retained messages.</param>
public sealed record StoreCounts(long Sessions, long Subscriptions, long Deliveries, long IncomingQoS2, long Messages, long PayloadBytes, long Retained)
{
    /// <summary>Nothing stored (the schema alone).</summary>
    public bool IsEmpty => Sessions + Subscriptions + Deliveries + IncomingQoS2 + Messages + Retained == 0;
}

/// <summary>What <see cref="SqliteBrokerStore.Check"/> found.</summary>
/// <param name="Counts">What the store holds, or null when it could not be counted (it is corrupt).</param>
/// <param name="SizeBytes">Bytes the store takes on disk.</param>
/// <param name="Problems">One line per problem; none when the store is sound.</param>
public sealed record StoreCheckReport(StoreCounts? Counts, long SizeBytes, IReadOnlyList<string> Problems)
{
    /// <summary>No problem found.</summary>
    public bool Ok => Problems.Count == 0;
}
