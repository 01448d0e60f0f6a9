using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// One client, as <see cref="MqttBroker.GetClients"/> saw it: a connected client, or the
/// persistent session of one that is not connected (then the connection's fields are null or 0).
/// </summary>
/// <param name="ClientId">The client id (assigned by the broker when the client sent an empty one).</param>
/// <param name="Connected">The client is connected; false for a persistent session kept while it is away.</param>
/// <param name="Username">The user name it is known as after authentication, if any.</param>
/// <param name="RemoteEndPoint">The client's address and port; null while disconnected.</param>
/// <param name="ProtocolVersion">MQTT 3.1, 3.1.1 or 5.0; null while disconnected.</param>
/// <param name="KeepAlive">Keep alive in effect, in seconds (0: off); null while disconnected.</param>
/// <param name="ConnectedAt">When the broker accepted the network connection; null while disconnected.</param>
/// <param name="DisconnectedAt">When the client went away; null while connected.</param>
/// <param name="MessagesReceived">PUBLISH packets received from this client on this connection.</param>
/// <param name="MessagesSent">PUBLISH packets sent to this client on this connection.</param>
/// <param name="BytesReceived">Bytes received on this connection.</param>
/// <param name="BytesSent">Bytes sent on this connection.</param>
/// <param name="Subscriptions">Subscriptions of its session.</param>
/// <param name="QueuedMessages">Messages waiting in its session: behind the in-flight window, or for the client to come back.</param>
/// <param name="SessionExpiryInterval">Seconds its session outlives the connection (<see cref="uint.MaxValue"/>: never expires).</param>
/// <param name="InflightMessages">QoS 1/2 messages sent to it and not yet acknowledged (resent when a disconnected client comes back).</param>
/// <param name="Dropped">Messages its session did not get since it began, every reason.</param>
/// <param name="DroppedByReason">The same by reason, only the reasons that dropped something.</param>
/// <param name="SlowedPublishers">Publishers holding back their acknowledgements right now because this client's queue is past <c>Broker:MaxQueuedMessages</c>; 0 while disconnected.</param>
/// <param name="HeldAcknowledgements">This client's own PUBACK/PUBREC held back right now because a subscriber it publishes to is behind; 0 while disconnected.</param>
/// <param name="TimesSlowed">Times this connection's acknowledgements started being held; 0 while disconnected.</param>
public sealed record ClientSnapshot(
    string ClientId,
    bool Connected,
    string? Username,
    string? RemoteEndPoint,
    MqttProtocolVersion? ProtocolVersion,
    int? KeepAlive,
    DateTimeOffset? ConnectedAt,
    DateTimeOffset? DisconnectedAt,
    long MessagesReceived,
    long MessagesSent,
    long BytesReceived,
    long BytesSent,
    int Subscriptions,
    int QueuedMessages,
    uint SessionExpiryInterval,
    int InflightMessages,
    long Dropped,
    IReadOnlyDictionary<DropReason, long> DroppedByReason,
    int SlowedPublishers,
    int HeldAcknowledgements,
    long TimesSlowed)
{
    /// <summary>The clean start (MQTT 3.1.1: clean session) flag of the client's CONNECT; null while disconnected.</summary>
    public bool? CleanStart { get; init; }

    /// <summary>It connected as a bridge (Mosquitto's <c>try_private</c>, CONNECT protocol level 0x83/0x84): its own messages are not sent back to it.</summary>
    public bool IsBridge { get; init; }

    /// <summary>When a disconnected client's session ends unless it comes back; null while connected or when it never expires.</summary>
    public DateTimeOffset? SessionExpiresAt => DisconnectedAt is { } at && SessionExpiryInterval != uint.MaxValue
        ? at + TimeSpan.FromSeconds(SessionExpiryInterval)
        : null;
}
