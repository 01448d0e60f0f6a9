namespace Tern.Broker;

/// <summary>
/// The name of each <see cref="DropReason"/> wherever an operator reads it: the
/// <c>$SYS/broker/messages/dropped/&lt;name&gt;</c> topics, the REST API and the dashboard.
/// </summary>
public static class DropReasonNames
{
    private static readonly DropReason[] Reasons = Enum.GetValues<DropReason>();

    /// <summary>Every reason, in declaration order.</summary>
    public static ReadOnlySpan<DropReason> All => Reasons;

    /// <summary>The reason's snake_case name, e.g. <c>queue_full</c> for <see cref="DropReason.QueueFull"/>.</summary>
    public static string Of(DropReason reason) => reason switch
    {
        DropReason.QueueFull => "queue_full",
        DropReason.QoS0QueueFull => "qos0_queue_full",
        DropReason.QoS0Offline => "qos0_offline",
        DropReason.Expired => "expired",
        DropReason.TooLargeForClient => "too_large_for_client",
        DropReason.SessionEnded => "session_ended",
        DropReason.NoSubscribers => "no_subscribers",
        DropReason.NotAuthorized => "not_authorized",
        DropReason.RetainedStoreFull => "retained_store_full",
        DropReason.StoreFailed => "store_failed",
        DropReason.BridgeQueueFull => "bridge_queue_full",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a drop reason."),
    };
}
