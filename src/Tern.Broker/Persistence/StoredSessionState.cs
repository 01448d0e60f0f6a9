namespace Tern.Broker.Persistence;

/// <summary>What the store holds of one session, as the store writer knows it (its thread alone touches it).</summary>
internal sealed class StoredSessionState
{
    private Dictionary<long, ApplicationMessage>? _deliveries;

    /// <summary>Stored deliveries by sequence, with the message each references (created on first use:
    /// most sessions at rest have none).</summary>
    public Dictionary<long, ApplicationMessage> Deliveries => _deliveries ??= [];

    /// <summary>The stored deliveries, or null if there never were any.</summary>
    public Dictionary<long, ApplicationMessage>? DeliveriesIfAny => _deliveries;

    /// <summary>The session's rows were deleted (it ended).</summary>
    public bool Deleted { get; set; }
}
