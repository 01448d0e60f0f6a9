using System.Text;

namespace Tern.TestKit;

/// <summary>
/// Hand-assembled packet bytes, independent of Tern's encoder, for malformed input and for
/// checking what the broker does with bytes the encoder would refuse to produce.
/// </summary>
public static class RawPackets
{
    /// <summary>A fixed header (first byte + remaining length) followed by <paramref name="body"/>.</summary>
    public static byte[] Frame(byte firstByte, params byte[][] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var length = body.Sum(b => b.Length);
        var result = new List<byte>(length + 5) { firstByte };
        result.AddRange(RemainingLength(length));
        foreach (var part in body)
        {
            result.AddRange(part);
        }

        return [.. result];
    }

    /// <summary>The variable byte integer encoding of <paramref name="value"/> (spec 2.2.3).</summary>
    public static byte[] RemainingLength(int value)
    {
        var bytes = new List<byte>(4);
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            if (value > 0)
            {
                digit |= 0x80;
            }

            bytes.Add(digit);
        }
        while (value > 0);
        return [.. bytes];
    }

    /// <summary>A length-prefixed field holding exactly <paramref name="raw"/> (which may be invalid UTF-8).</summary>
    public static byte[] Field(byte[] raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        return [(byte)(raw.Length >> 8), (byte)raw.Length, .. raw];
    }

    /// <summary>A length-prefixed UTF-8 string.</summary>
    public static byte[] Field(string text) => Field(Encoding.UTF8.GetBytes(text));

    public static byte[] U16(ushort value) => [(byte)(value >> 8), (byte)value];

    /// <summary>
    /// CONNECT with the given protocol name and level. <paramref name="flags"/> defaults to clean session;
    /// <paramref name="firstByte"/> lets a test set reserved fixed-header bits.
    /// </summary>
    public static byte[] Connect(string clientId, string protocolName = "MQTT", byte level = 4, byte flags = 0x02, ushort keepAlive = 0, byte firstByte = 0x10) =>
        Frame(firstByte, Field(protocolName), [level, flags], U16(keepAlive), Field(clientId));

    /// <summary>PUBLISH with raw topic bytes; <paramref name="flags"/> is the low nibble (DUP, QoS, RETAIN).</summary>
    public static byte[] Publish(byte[] topic, byte flags, ushort packetId, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var qos = (flags >> 1) & 3;
        return qos == 0
            ? Frame((byte)(0x30 | flags), Field(topic), payload)
            : Frame((byte)(0x30 | flags), Field(topic), U16(packetId), payload);
    }

    /// <summary>PUBLISH to a UTF-8 topic at QoS 0.</summary>
    public static byte[] Publish(string topic, string payload) =>
        Publish(Encoding.UTF8.GetBytes(topic), 0, 0, Encoding.UTF8.GetBytes(payload));

    /// <summary>SUBSCRIBE with one raw filter; <paramref name="firstByte"/> is normally 0x82.</summary>
    public static byte[] Subscribe(ushort packetId, byte[] filter, byte qos = 0, byte firstByte = 0x82) =>
        Frame(firstByte, U16(packetId), Field(filter), [qos]);

    public static byte[] Subscribe(ushort packetId, string filter, byte qos = 0, byte firstByte = 0x82) =>
        Subscribe(packetId, Encoding.UTF8.GetBytes(filter), qos, firstByte);

    public static byte[] Unsubscribe(ushort packetId, string filter, byte firstByte = 0xA2) =>
        Frame(firstByte, U16(packetId), Field(filter));

    public static readonly byte[] PingReq = [0xC0, 0x00];

    public static readonly byte[] Disconnect = [0xE0, 0x00];
}
