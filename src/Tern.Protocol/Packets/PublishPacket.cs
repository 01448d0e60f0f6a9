namespace Tern.Protocol;

/// <summary>PUBLISH (spec 3.3). <see cref="PacketId"/> is 0 for QoS 0.</summary>
public sealed record PublishPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Publish;

    /// <summary>Topic name; may be empty in MQTT 5.0 when a topic alias stands for it.</summary>
    public required string Topic { get; init; }
    public ReadOnlyMemory<byte> Payload { get; init; }
    public MqttQoS QoS { get; init; }
    public bool Retain { get; init; }
    public bool Dup { get; init; }
    public ushort PacketId { get; init; }
    public MqttProperties? Properties { get; init; }
}
