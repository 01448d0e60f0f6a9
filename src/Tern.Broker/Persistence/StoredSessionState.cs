namespace Tern.Broker.Persistence;

/// <summary>What the store holds of one session, as the store writer knows it (its thread alone touches it).</summary>
internal sealed class StoredSessionState
{
    /// <summary>Stored deliveries by sequence, with the message each references.</summary>
    public Dictionary<long, ApplicationMessage> Deliveries { get; } = [];

    /// <summary>The session's rows were deleted (it ended).</summary>
    public bool Deleted { get; set; }
}
