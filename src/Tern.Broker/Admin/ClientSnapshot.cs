using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One connected client, as <see cref="MqttBroker.GetClients"/> saw it.</summary>
/// <param name="ClientId">The client id (assigned by the broker when the client sent an empty one).</param>
/// <param name="Username">The user name it is known as after authentication, if any.</param>
/// <param name="RemoteEndPoint">The client's address and port.</param>
/// <param name="ProtocolVersion">MQTT 3.1, 3.1.1 or 5.0.</param>
/// <param name="KeepAlive">Keep alive in effect, in seconds (0: off).</param>
/// <param name="ConnectedAt">When the broker accepted the network connection.</param>
/// <param name="MessagesReceived">PUBLISH packets received from this client on this connection.</param>
/// <param name="MessagesSent">PUBLISH packets sent to this client on this connection.</param>
/// <param name="BytesReceived">Bytes received on this connection.</param>
/// <param name="BytesSent">Bytes sent on this connection.</param>
/// <param name="Subscriptions">Subscriptions of its session.</param>
/// <param name="QueuedMessages">QoS 1/2 messages waiting behind its in-flight window.</param>
/// <param name="SessionExpiryInterval">Seconds its session outlives the connection (<see cref="uint.MaxValue"/>: never expires).</param>
public sealed record ClientSnapshot(
    string ClientId,
    string? Username,
    string? RemoteEndPoint,
    MqttProtocolVersion ProtocolVersion,
    int KeepAlive,
    DateTimeOffset ConnectedAt,
    long MessagesReceived,
    long MessagesSent,
    long BytesReceived,
    long BytesSent,
    int Subscriptions,
    int QueuedMessages,
    uint SessionExpiryInterval);
