namespace Tern.Protocol;

/// <summary>CONNACK (spec 3.2). <see cref="ReasonCode"/> is the 3.1.1 return code or the 5.0 reason code.</summary>
public sealed record ConnAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.ConnAck;

    public bool SessionPresent { get; init; }
    public byte ReasonCode { get; init; }
    public MqttProperties? Properties { get; init; }
}
