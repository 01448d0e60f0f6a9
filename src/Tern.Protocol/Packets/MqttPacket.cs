namespace Tern.Protocol;

/// <summary>Base of every decoded or to-be-encoded control packet.</summary>
public abstract record MqttPacket
{
    public abstract MqttPacketType Type { get; }
}
