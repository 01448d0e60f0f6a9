using System.Text;

namespace Tern.Protocol;

/// <summary>Encodes PUBLISH (spec 3.3): topic, packet id for QoS > 0, 5.0 properties, payload.</summary>
internal static class PublishEncoder
{
    public static int GetRemainingLength(PublishPacket p, MqttProtocolVersion version)
    {
        int propertiesSize = version == MqttProtocolVersion.V500 ? MqttPropertiesWriter.GetContentSize(p.Properties) : 0;
        return GetRemainingLength(version, Encoding.UTF8.GetByteCount(p.Topic), p.Payload.Length, p.QoS, propertiesSize);
    }

    /// <param name="version">The protocol version of the connection the packet is for.</param>
    /// <param name="topicLength">The topic name's length in UTF-8 bytes.</param>
    /// <param name="payloadLength">The payload's length in bytes.</param>
    /// <param name="qos">The packet's QoS (a packet identifier follows the topic above 0).</param>
    /// <param name="propertiesContentSize">Property bytes without the length prefix (ignored before 5.0).</param>
    public static int GetRemainingLength(
        MqttProtocolVersion version, int topicLength, int payloadLength, MqttQoS qos, int propertiesContentSize)
    {
        int n = 2 + topicLength + payloadLength;
        if (qos != MqttQoS.AtMostOnce)
        {
            n += 2;
        }

        if (version == MqttProtocolVersion.V500)
        {
            n += MqttPropertiesWriter.GetSize(propertiesContentSize);
        }

        return n;
    }

    public static void Write(ref MqttWriter w, PublishPacket p, MqttProtocolVersion version)
    {
        int topicLength = Encoding.UTF8.GetByteCount(p.Topic);
        if (topicLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgument("A topic is at most 65535 UTF-8 bytes.", nameof(p));
        }

        int propertiesSize = version == MqttProtocolVersion.V500 ? MqttPropertiesWriter.GetContentSize(p.Properties) : 0;
        int remaining = GetRemainingLength(version, topicLength, p.Payload.Length, p.QoS, propertiesSize);
        w.WriteFixedHeader(GetHeader(p.QoS, p.Retain, p.Dup, p.PacketId), remaining);
        w.WriteString(p.Topic);
        WriteTail(ref w, version, p.Payload.Span, p.QoS, p.PacketId, p.Properties, propertiesSize);
    }

    public static void Write(
        ref MqttWriter w,
        MqttProtocolVersion version,
        ReadOnlySpan<byte> topicUtf8,
        ReadOnlySpan<byte> payload,
        MqttQoS qos,
        bool retain,
        bool dup,
        ushort packetId,
        MqttProperties? properties)
    {
        int propertiesSize = version == MqttProtocolVersion.V500 ? MqttPropertiesWriter.GetContentSize(properties) : 0;
        int remaining = GetRemainingLength(version, topicUtf8.Length, payload.Length, qos, propertiesSize);
        w.WriteFixedHeader(GetHeader(qos, retain, dup, packetId), remaining);
        w.WriteBinary(topicUtf8);
        WriteTail(ref w, version, payload, qos, packetId, properties, propertiesSize);
    }

    private static void WriteTail(
        ref MqttWriter w,
        MqttProtocolVersion version,
        ReadOnlySpan<byte> payload,
        MqttQoS qos,
        ushort packetId,
        MqttProperties? properties,
        int propertiesSize)
    {
        if (qos != MqttQoS.AtMostOnce)
        {
            w.WriteUInt16(packetId);
        }

        if (version == MqttProtocolVersion.V500)
        {
            MqttPropertiesWriter.Write(ref w, properties, propertiesSize);
        }

        w.WriteRaw(payload);
    }

    /// <summary>
    /// 0x30 | DUP | QoS | RETAIN. Refuses what a receiver would reject: QoS 3, DUP with QoS 0
    /// [MQTT-3.3.1-2] and packet id 0 with QoS > 0 [MQTT-2.2.1-3].
    /// </summary>
    private static byte GetHeader(MqttQoS qos, bool retain, bool dup, ushort packetId)
    {
        if ((uint)qos > 2)
        {
            ThrowHelper.ThrowArgument("QoS must be 0, 1 or 2.", nameof(qos));
        }

        if (qos == MqttQoS.AtMostOnce ? dup : packetId == 0)
        {
            ThrowHelper.ThrowArgument("QoS 0 has no DUP flag; QoS 1 and 2 need a non-zero packet id.", nameof(packetId));
        }

        return (byte)(0x30 | (dup ? 0x08 : 0) | ((int)qos << 1) | (retain ? 0x01 : 0));
    }
}
