namespace Tern.Broker;

/// <summary>Why the broker did not deliver a message to a session (every such message is counted with one).</summary>
public enum DropReason
{
    /// <summary>A QoS 1/2 (or queued QoS 0) message met a full session queue (<c>Broker:MaxQueuedMessages</c>/<c>MaxQueuedBytes</c>, <c>Broker:QueueFullPolicy</c>).</summary>
    QueueFull,

    /// <summary>A QoS 0 message met a connection too far behind (<c>Broker:MaxQueuedQoS0Messages</c>).</summary>
    QoS0QueueFull,

    /// <summary>A QoS 0 message for an offline session, which does not queue QoS 0 (<c>Broker:QueueQoS0Messages</c>).</summary>
    QoS0Offline,

    /// <summary>The MQTT 5 message expiry interval passed before it could be sent.</summary>
    Expired,

    /// <summary>Larger than the maximum packet size the client announced (MQTT 5).</summary>
    TooLargeForClient,

    /// <summary>Queued or in flight when its session ended (expiry, clean start, discard).</summary>
    SessionEnded,

    /// <summary>A published message no subscription matched.</summary>
    NoSubscribers,

    /// <summary>A publish the ACL does not allow.</summary>
    NotAuthorized,

    /// <summary>A retained message not stored because the store holds <c>Broker:MaxRetainedMessages</c>.</summary>
    RetainedStoreFull,

    /// <summary>A QoS 1/2 publish refused because the store (<c>Persistence</c>) cannot write.</summary>
    StoreFailed,

    /// <summary>A message a bridge was to forward met its full queue (<c>Bridges:N:MaxQueued</c>), usually while the remote broker is down.</summary>
    BridgeQueueFull,
}
