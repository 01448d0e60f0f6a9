namespace Tern.Protocol;

/// <summary>CONNECT (spec 3.1). <see cref="CleanSession"/> is Clean Start in MQTT 5.0.</summary>
public sealed record ConnectPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Connect;

    public MqttProtocolVersion ProtocolVersion { get; init; } = MqttProtocolVersion.V311;

    /// <summary>
    /// Mosquitto's bridge convention (<c>try_private</c>): the protocol level with its high bit set
    /// (0x83, 0x84) says the client is a bridge, so the broker does not send back what it published.
    /// </summary>
    public bool IsBridge { get; init; }
    public string ClientId { get; init; } = "";
    public bool CleanSession { get; init; } = true;
    /// <summary>Keep alive in seconds; 0 turns it off.</summary>
    public ushort KeepAlive { get; init; }
    public string? Username { get; init; }
    public ReadOnlyMemory<byte>? Password { get; init; }
    public WillMessage? Will { get; init; }
    public MqttProperties? Properties { get; init; }
}

/// <summary>The will (last will and testament) carried by CONNECT.</summary>
public sealed record WillMessage
{
    public required string Topic { get; init; }
    public ReadOnlyMemory<byte> Payload { get; init; }
    public MqttQoS QoS { get; init; }
    public bool Retain { get; init; }
    /// <summary>MQTT 5.0 will properties (will delay, expiry, content type, ...).</summary>
    public MqttProperties? Properties { get; init; }
}
