namespace Tern.Protocol;

/// <summary>PUBREL. <see cref="ReasonCode"/> and <see cref="Properties"/> exist on the wire only in MQTT 5.0.</summary>
public sealed record PubRelPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.PubRel;

    public ushort PacketId { get; init; }
    public ReasonCode ReasonCode { get; init; }
    public MqttProperties? Properties { get; init; }
}
