namespace Tern.Protocol;

/// <summary>UNSUBSCRIBE (spec 3.10).</summary>
public sealed record UnsubscribePacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Unsubscribe;

    public ushort PacketId { get; init; }
    public required IReadOnlyList<string> Filters { get; init; }
    public MqttProperties? Properties { get; init; }
}
