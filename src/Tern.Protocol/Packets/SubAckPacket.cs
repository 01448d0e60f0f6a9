namespace Tern.Protocol;

/// <summary>SUBACK (spec 3.9): one return/reason code per filter (granted QoS, or 0x80 and above for failure).</summary>
public sealed record SubAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.SubAck;

    public ushort PacketId { get; init; }
    public required IReadOnlyList<byte> ReasonCodes { get; init; }
    public MqttProperties? Properties { get; init; }
}
