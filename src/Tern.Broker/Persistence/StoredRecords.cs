using Tern.Protocol;

namespace Tern.Broker.Persistence;

/// <summary>A message held by at least one stored session or as a retained message; stored once, however many hold it.</summary>
/// <param name="Id">The store's key, referenced by deliveries and retained entries.</param>
/// <param name="Topic">The topic it was published to.</param>
/// <param name="Payload">The payload.</param>
/// <param name="QoS">The QoS it was published with.</param>
/// <param name="Retain">The RETAIN flag as published.</param>
/// <param name="Properties">MQTT 5 properties, encoded (<see cref="MqttPropertiesCodec"/>), or null.</param>
/// <param name="PublisherClientId">Who published it (no local), or null for the broker.</param>
/// <param name="CreatedUnixMs">Wall-clock time it arrived; message expiry counts from it.</param>
public sealed record StoredMessage(long Id, string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, bool Retain, byte[]? Properties, string? PublisherClientId, long CreatedUnixMs);

/// <summary>A will: the one a connected client gave on CONNECT, or one waiting for its delay.</summary>
/// <param name="Topic">Will topic.</param>
/// <param name="Payload">Will payload.</param>
/// <param name="QoS">Will QoS.</param>
/// <param name="Retain">Will retain flag.</param>
/// <param name="Properties">MQTT 5 will properties, encoded (<see cref="MqttPropertiesCodec"/>), or null.</param>
public sealed record StoredWill(string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, bool Retain, byte[]? Properties);

/// <summary>A persistent session.</summary>
/// <param name="ClientId">Its client id (the key).</param>
/// <param name="ExpiryInterval">Seconds it outlives its connection (<see cref="uint.MaxValue"/>: MQTT 3.1.1, no expiry of its own).</param>
/// <param name="DisconnectedUnixMs">Wall-clock time its connection went away; null while connected.</param>
/// <param name="Will">The will of its connection while connected; after, a delayed will not yet published.</param>
/// <param name="WillDueUnixMs">When the delayed will is published; null when <paramref name="Will"/> is the connected client's.</param>
/// <param name="Username">The user it authenticated as (its will is checked against the ACL as this user).</param>
/// <param name="Address">The address it connected from.</param>
/// <param name="Listener">The listener it connected on.</param>
public sealed record StoredSession(string ClientId, uint ExpiryInterval, long? DisconnectedUnixMs, StoredWill? Will, long? WillDueUnixMs, string? Username, string? Address, string? Listener);

/// <summary>One subscription of a stored session.</summary>
/// <param name="ClientId">The session.</param>
/// <param name="Filter">The filter as subscribed (with <c>$share/g/</c> for a shared one).</param>
/// <param name="Options">Granted QoS and MQTT 5 options.</param>
/// <param name="SubscriptionIdentifier">MQTT 5 subscription identifier, if any.</param>
public sealed record StoredSubscription(string ClientId, string Filter, SubscriptionOptions Options, uint? SubscriptionIdentifier);

/// <summary>A message a stored session holds: queued (no packet id yet) or in flight.</summary>
/// <param name="ClientId">The session.</param>
/// <param name="Sequence">Its place in the session (deliveries are restored in this order).</param>
/// <param name="MessageId">The <see cref="StoredMessage"/>.</param>
/// <param name="QoS">The QoS it is delivered with.</param>
/// <param name="Retain">The RETAIN flag the subscriber sees.</param>
/// <param name="SubscriptionIdentifiers">MQTT 5 subscription identifiers of the matching subscriptions.</param>
/// <param name="SharedFilter">The shared subscription (<c>$share/g/f</c>) it came through, or null.</param>
/// <param name="PacketId">Its packet id once sent; 0 while queued.</param>
/// <param name="Released">QoS 2: PUBREC came and PUBREL was sent.</param>
public sealed record StoredDelivery(string ClientId, long Sequence, long MessageId, MqttQoS QoS, bool Retain, uint[]? SubscriptionIdentifiers, string? SharedFilter, ushort PacketId, bool Released);

/// <summary>Everything a store holds, as <see cref="IBrokerStore.Load"/> returns it.</summary>
public sealed class StoredState
{
    public List<StoredMessage> Messages { get; } = [];

    public List<StoredSession> Sessions { get; } = [];

    public List<StoredSubscription> Subscriptions { get; } = [];

    /// <summary>Deliveries; in sequence order within each session.</summary>
    public List<StoredDelivery> Deliveries { get; } = [];

    /// <summary>QoS 2 packet ids each session received and awaits PUBREL for.</summary>
    public List<(string ClientId, ushort PacketId)> IncomingQoS2 { get; } = [];

    /// <summary>Retained messages: topic and message id.</summary>
    public List<(string Topic, long MessageId)> Retained { get; } = [];

    /// <summary>Bans added at run time (not those of the configuration).</summary>
    public List<Ban> Bans { get; } = [];

    /// <summary>The last time the store was written (wall clock); sessions connected then are taken as disconnected at that time.</summary>
    public long? LastWrittenUnixMs { get; set; }
}
