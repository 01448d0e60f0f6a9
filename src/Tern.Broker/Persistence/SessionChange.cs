namespace Tern.Broker.Persistence;

/// <summary>What a stored session did, logged under its lock for the store writer (see <see cref="StoreWriter"/>).</summary>
internal enum SessionChangeKind : byte
{
    /// <summary>A delivery entered the queue or the in-flight window (<see cref="SessionChange.PacketId"/> 0: queued).</summary>
    Added,

    /// <summary>A queued delivery was sent with a packet id.</summary>
    Sent,

    /// <summary>QoS 2: PUBREC came, PUBREL goes out.</summary>
    Released,

    /// <summary>Acknowledged, expired, dropped or handed to another shared member.</summary>
    Removed,

    IncomingAdded,
    IncomingRemoved,
    Subscribed,
    Unsubscribed,
}

/// <summary>One logged change; which fields matter depends on <see cref="Kind"/>.</summary>
internal readonly record struct SessionChange(SessionChangeKind Kind, Delivery Delivery, ushort PacketId, bool Released, Subscription? Subscription, string? Filter)
{
    public static SessionChange Added(in Delivery delivery, ushort packetId) => new(SessionChangeKind.Added, delivery, packetId, false, null, null);

    public static SessionChange Sent(in Delivery delivery, ushort packetId) => new(SessionChangeKind.Sent, delivery, packetId, false, null, null);

    public static SessionChange ReleasedAt(in Delivery delivery, ushort packetId) => new(SessionChangeKind.Released, delivery, packetId, true, null, null);

    public static SessionChange Removed(in Delivery delivery) => new(SessionChangeKind.Removed, delivery, 0, false, null, null);

    public static SessionChange Incoming(ushort packetId, bool added)
        => new(added ? SessionChangeKind.IncomingAdded : SessionChangeKind.IncomingRemoved, default, packetId, false, null, null);

    public static SessionChange Subscribed(Subscription subscription) => new(SessionChangeKind.Subscribed, default, 0, false, subscription, subscription.Filter);

    public static SessionChange Unsubscribed(string filter) => new(SessionChangeKind.Unsubscribed, default, 0, false, null, filter);
}
