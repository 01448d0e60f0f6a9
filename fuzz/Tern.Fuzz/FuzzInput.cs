using Tern.Protocol;

namespace Tern.Fuzz;

/// <summary>
/// The layout every fuzz input shares: byte 0 is a selector, the rest is MQTT wire bytes.
/// Selector bits 0-1 pick the protocol version (0 = 3.1, 1 = 3.1.1, 2 and 3 = 5.0).
/// The decoder target reads bits 3-6 as the segment size the bytes are split into (0 = one
/// segment) and bit 7 as "small maximum packet size"; the broker target reads bit 2 as "send a
/// valid CONNECT of that version first".
/// </summary>
public static class FuzzInput
{
    public const byte ConnectPrefixBit = 0b0000_0100;
    public const byte SmallMaxPacketSizeBit = 0b1000_0000;
    public const int SmallMaxPacketSize = 64;

    public static MqttProtocolVersion Version(byte selector) => (selector & 3) switch
    {
        0 => MqttProtocolVersion.V310,
        1 => MqttProtocolVersion.V311,
        _ => MqttProtocolVersion.V500,
    };

    public static byte Selector(MqttProtocolVersion version, bool connectPrefix = false) => (byte)(
        version switch
        {
            MqttProtocolVersion.V310 => 0,
            MqttProtocolVersion.V311 => 1,
            _ => 2,
        } | (connectPrefix ? ConnectPrefixBit : 0));

    public static int SegmentSize(byte selector) => (selector >> 3) & 0x0F;

    public static int MaxPacketSize(byte selector) =>
        (selector & SmallMaxPacketSizeBit) != 0 ? SmallMaxPacketSize : 1024 * 1024;
}
