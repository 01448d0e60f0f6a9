namespace Tern.Protocol;

/// <summary>AUTH (spec 3.15, MQTT 5.0 only).</summary>
public sealed record AuthPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Auth;

    public ReasonCode ReasonCode { get; init; }
    public MqttProperties? Properties { get; init; }
}
