namespace Tern.Protocol;

/// <summary>DISCONNECT (spec 3.14). Reason code and properties exist on the wire only in MQTT 5.0.</summary>
public sealed record DisconnectPacket : MqttPacket
{
    public static readonly DisconnectPacket Normal = new();

    public override MqttPacketType Type => MqttPacketType.Disconnect;

    public ReasonCode ReasonCode { get; init; }
    public MqttProperties? Properties { get; init; }
}
