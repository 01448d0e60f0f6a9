namespace Tern.Protocol;

/// <summary>PUBREC. <see cref="ReasonCode"/> and <see cref="Properties"/> exist on the wire only in MQTT 5.0.</summary>
public sealed record PubRecPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.PubRec;

    public ushort PacketId { get; init; }
    public ReasonCode ReasonCode { get; init; }
    public MqttProperties? Properties { get; init; }
}
