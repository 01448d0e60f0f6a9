namespace Tern.Protocol;

/// <summary>UNSUBACK (spec 3.11). Reason codes and properties exist on the wire only in MQTT 5.0.</summary>
public sealed record UnsubAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.UnsubAck;

    public ushort PacketId { get; init; }
    public IReadOnlyList<byte> ReasonCodes { get; init; } = [];
    public MqttProperties? Properties { get; init; }
}
