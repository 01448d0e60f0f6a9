using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// One entry of a connection's outbound queue: either a PUBLISH of a shared message (encoded by
/// the writer straight into the transport) or a control packet.
/// </summary>
internal readonly struct OutboundItem
{
    private OutboundItem(ApplicationMessage? message, MqttPacket? control, ushort packetId, MqttQoS qos, bool retain, bool dup, uint[]? subscriptionIds)
    {
        Message = message;
        Control = control;
        PacketId = packetId;
        QoS = qos;
        Retain = retain;
        Dup = dup;
        SubscriptionIds = subscriptionIds;
    }

    public ApplicationMessage? Message { get; }

    public MqttPacket? Control { get; }

    public ushort PacketId { get; }

    public MqttQoS QoS { get; }

    public bool Retain { get; }

    public bool Dup { get; }

    /// <summary>MQTT 5 subscription identifiers of the subscriptions that matched.</summary>
    public uint[]? SubscriptionIds { get; }

    public static OutboundItem Publish(ApplicationMessage message, MqttQoS qos, bool retain, ushort packetId, bool dup, uint[]? subscriptionIds)
        => new(message, null, packetId, qos, retain, dup, subscriptionIds);

    public static OutboundItem Packet(MqttPacket packet) => new(null, packet, 0, MqttQoS.AtMostOnce, false, false, null);
}
