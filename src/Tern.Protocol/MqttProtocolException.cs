namespace Tern.Protocol;

/// <summary>
/// A packet broke the protocol. <see cref="ReasonCode"/> is what an MQTT 5 peer is told
/// (0x81 malformed, 0x82 protocol error, 0x84 unsupported version, 0x95 too large, ...).
/// </summary>
public sealed class MqttProtocolException : Exception
{
    public MqttProtocolException(ReasonCode reasonCode, string message)
        : base(message) => ReasonCode = reasonCode;

    public ReasonCode ReasonCode { get; }

    public static MqttProtocolException Malformed(string message) => new(ReasonCode.MalformedPacket, message);

    public static MqttProtocolException ProtocolError(string message) => new(ReasonCode.ProtocolError, message);
}
