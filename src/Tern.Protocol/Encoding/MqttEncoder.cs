using System.Buffers;

namespace Tern.Protocol;

/// <summary>
/// Encodes control packets into an <see cref="IBufferWriter{T}"/> in the wire form of a protocol
/// version: 3.1 and 3.1.1 forms omit 5.0 reason codes and properties. Nothing is flushed.
/// </summary>
public static class MqttEncoder
{
    /// <summary>Writes <paramref name="packet"/>. CONNECT uses its own <see cref="ConnectPacket.ProtocolVersion"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, MqttPacket packet, MqttProtocolVersion version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(packet);
        CheckVersion(version);
        var w = new MqttWriter(writer);
        switch (packet)
        {
            case ConnectPacket p: ConnectEncoder.Write(ref w, p); break;
            case ConnAckPacket p: ControlEncoder.WriteConnAck(ref w, p, version); break;
            case PublishPacket p: PublishEncoder.Write(ref w, p, version); break;
            case PubAckPacket p: ControlEncoder.WritePubAckFamily(ref w, 0x40, p.PacketId, p.ReasonCode, p.Properties, version); break;
            case PubRecPacket p: ControlEncoder.WritePubAckFamily(ref w, 0x50, p.PacketId, p.ReasonCode, p.Properties, version); break;
            case PubRelPacket p: ControlEncoder.WritePubAckFamily(ref w, 0x62, p.PacketId, p.ReasonCode, p.Properties, version); break;
            case PubCompPacket p: ControlEncoder.WritePubAckFamily(ref w, 0x70, p.PacketId, p.ReasonCode, p.Properties, version); break;
            case SubscribePacket p: SubscribeEncoder.WriteSubscribe(ref w, p, version); break;
            case SubAckPacket p: ControlEncoder.WriteSubAck(ref w, p, version); break;
            case UnsubscribePacket p: SubscribeEncoder.WriteUnsubscribe(ref w, p, version); break;
            case UnsubAckPacket p: ControlEncoder.WriteUnsubAck(ref w, p, version); break;
            case PingReqPacket: w.WriteFixedHeader(0xC0, 0); break;
            case PingRespPacket: w.WriteFixedHeader(0xD0, 0); break;
            case DisconnectPacket p: ControlEncoder.WriteReasonOnly(ref w, 0xE0, p.ReasonCode, p.Properties, version); break;
            case AuthPacket p: ControlEncoder.WriteAuth(ref w, p, version); break;
            default: throw new ArgumentException($"Unknown packet type {packet.GetType()}.", nameof(packet));
        }

        w.Commit();
    }

    /// <summary>Total bytes <see cref="Write"/> produces, fixed header included.</summary>
    public static int GetSize(MqttPacket packet, MqttProtocolVersion version)
    {
        ArgumentNullException.ThrowIfNull(packet);
        CheckVersion(version);
        int remaining = packet switch
        {
            ConnectPacket p => ConnectEncoder.GetRemainingLength(p),
            ConnAckPacket p => ControlEncoder.GetConnAckLength(p, version),
            PublishPacket p => PublishEncoder.GetRemainingLength(p, version),
            PubAckPacket p => ControlEncoder.GetPubAckFamilyLength(p.ReasonCode, p.Properties, version),
            PubRecPacket p => ControlEncoder.GetPubAckFamilyLength(p.ReasonCode, p.Properties, version),
            PubRelPacket p => ControlEncoder.GetPubAckFamilyLength(p.ReasonCode, p.Properties, version),
            PubCompPacket p => ControlEncoder.GetPubAckFamilyLength(p.ReasonCode, p.Properties, version),
            SubscribePacket p => SubscribeEncoder.GetSubscribeLength(p, version),
            SubAckPacket p => ControlEncoder.GetSubAckLength(p, version),
            UnsubscribePacket p => SubscribeEncoder.GetUnsubscribeLength(p, version),
            UnsubAckPacket p => ControlEncoder.GetUnsubAckLength(p, version),
            PingReqPacket or PingRespPacket => 0,
            DisconnectPacket p => ControlEncoder.GetReasonOnlyLength(p.ReasonCode, p.Properties, version),
            AuthPacket p => ControlEncoder.GetReasonOnlyLength(p.ReasonCode, p.Properties, version),
            _ => throw new ArgumentException($"Unknown packet type {packet.GetType()}.", nameof(packet)),
        };
        return 1 + VariableByteInteger.GetSize(remaining) + remaining;
    }

    /// <summary>Encodes <paramref name="packet"/> into a new array.</summary>
    public static byte[] ToArray(MqttPacket packet, MqttProtocolVersion version)
    {
        var buffer = new ArrayBufferWriter<byte>(GetSize(packet, version));
        Write(buffer, packet, version);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes a PUBLISH from parts: the broker's per-delivery path. Allocates nothing; the topic is
    /// already UTF-8 and <paramref name="packetId"/> is ignored for QoS 0.
    /// </summary>
    public static void WritePublish(
        IBufferWriter<byte> writer,
        MqttProtocolVersion version,
        ReadOnlySpan<byte> topicUtf8,
        ReadOnlySpan<byte> payload,
        MqttQoS qos,
        bool retain,
        bool dup,
        ushort packetId,
        MqttProperties? properties)
    {
        var w = new MqttWriter(writer);
        PublishEncoder.Write(ref w, version, topicUtf8, payload, qos, retain, dup, packetId, properties);
        w.Commit();
    }

    /// <summary>Total bytes <see cref="WritePublish"/> produces, fixed header included.</summary>
    public static int GetPublishSize(
        MqttProtocolVersion version, int topicUtf8Length, int payloadLength, MqttQoS qos, MqttProperties? properties)
    {
        int propertiesSize = version == MqttProtocolVersion.V500
            ? MqttPropertiesWriter.GetContentSize(properties)
            : 0;
        int remaining = PublishEncoder.GetRemainingLength(version, topicUtf8Length, payloadLength, qos, propertiesSize);
        return 1 + VariableByteInteger.GetSize(remaining) + remaining;
    }

    private static void CheckVersion(MqttProtocolVersion version)
    {
        if (version is not (MqttProtocolVersion.V310 or MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            ThrowHelper.ThrowUnsupportedVersion(version);
        }
    }
}
