namespace Tern.Protocol;

/// <summary>
/// Encodes the small control packets: CONNACK, the PUBACK family, SUBACK, UNSUBACK, DISCONNECT and
/// AUTH. In 5.0 the spec lets trailing reason code and properties be omitted when they are
/// Success / empty; this encoder always uses those short forms.
/// </summary>
internal static class ControlEncoder
{
    public static int GetConnAckLength(ConnAckPacket p, MqttProtocolVersion version) =>
        version == MqttProtocolVersion.V500
            ? 2 + MqttPropertiesWriter.GetSize(MqttPropertiesWriter.GetContentSize(p.Properties))
            : 2;

    public static void WriteConnAck(ref MqttWriter w, ConnAckPacket p, MqttProtocolVersion version)
    {
        w.WriteFixedHeader(0x20, GetConnAckLength(p, version));

        // MQTT 3.1 has no session-present flag: the byte is reserved.
        w.WriteByte(p.SessionPresent && version != MqttProtocolVersion.V310 ? (byte)1 : (byte)0);
        w.WriteByte(p.ReasonCode);
        if (version == MqttProtocolVersion.V500)
        {
            MqttPropertiesWriter.Write(ref w, p.Properties, MqttPropertiesWriter.GetContentSize(p.Properties));
        }
    }

    /// <summary>PUBACK/PUBREC/PUBREL/PUBCOMP: 2 bytes, or 3 with a reason code, or more with properties (5.0).</summary>
    public static int GetPubAckFamilyLength(ReasonCode reasonCode, MqttProperties? properties, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500)
        {
            return 2;
        }

        int propertiesSize = MqttPropertiesWriter.GetContentSize(properties);
        return propertiesSize != 0 ? 3 + MqttPropertiesWriter.GetSize(propertiesSize)
            : reasonCode != ReasonCode.Success ? 3
            : 2;
    }

    public static void WritePubAckFamily(
        ref MqttWriter w,
        byte header,
        ushort packetId,
        ReasonCode reasonCode,
        MqttProperties? properties,
        MqttProtocolVersion version)
    {
        int remaining = GetPubAckFamilyLength(reasonCode, properties, version);
        w.WriteFixedHeader(header, remaining);
        w.WriteUInt16(packetId);
        if (remaining > 2)
        {
            w.WriteByte((byte)reasonCode);
        }

        if (remaining > 3)
        {
            MqttPropertiesWriter.Write(ref w, properties, MqttPropertiesWriter.GetContentSize(properties));
        }
    }

    public static int GetSubAckLength(SubAckPacket p, MqttProtocolVersion version) =>
        2 + p.ReasonCodes.Count + PropertiesSize(p.Properties, version);

    public static void WriteSubAck(ref MqttWriter w, SubAckPacket p, MqttProtocolVersion version)
    {
        w.WriteFixedHeader(0x90, GetSubAckLength(p, version));
        w.WriteUInt16(p.PacketId);
        WriteProperties(ref w, p.Properties, version);
        WriteCodes(ref w, p.ReasonCodes);
    }

    /// <summary>Before 5.0 UNSUBACK is the packet id alone.</summary>
    public static int GetUnsubAckLength(UnsubAckPacket p, MqttProtocolVersion version) =>
        version == MqttProtocolVersion.V500 ? 2 + p.ReasonCodes.Count + PropertiesSize(p.Properties, version) : 2;

    public static void WriteUnsubAck(ref MqttWriter w, UnsubAckPacket p, MqttProtocolVersion version)
    {
        w.WriteFixedHeader(0xB0, GetUnsubAckLength(p, version));
        w.WriteUInt16(p.PacketId);
        if (version == MqttProtocolVersion.V500)
        {
            WriteProperties(ref w, p.Properties, version);
            WriteCodes(ref w, p.ReasonCodes);
        }
    }

    /// <summary>DISCONNECT and AUTH: empty for Success without properties, else reason code and optional properties.</summary>
    public static int GetReasonOnlyLength(ReasonCode reasonCode, MqttProperties? properties, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500)
        {
            return 0;
        }

        int propertiesSize = MqttPropertiesWriter.GetContentSize(properties);
        return propertiesSize != 0 ? 1 + MqttPropertiesWriter.GetSize(propertiesSize)
            : reasonCode != ReasonCode.Success ? 1
            : 0;
    }

    public static void WriteReasonOnly(
        ref MqttWriter w, byte header, ReasonCode reasonCode, MqttProperties? properties, MqttProtocolVersion version)
    {
        int remaining = GetReasonOnlyLength(reasonCode, properties, version);
        w.WriteFixedHeader(header, remaining);
        if (remaining > 0)
        {
            w.WriteByte((byte)reasonCode);
        }

        if (remaining > 1)
        {
            MqttPropertiesWriter.Write(ref w, properties, MqttPropertiesWriter.GetContentSize(properties));
        }
    }

    public static void WriteAuth(ref MqttWriter w, AuthPacket p, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500)
        {
            ThrowHelper.ThrowArgument("AUTH exists only in MQTT 5.0.", nameof(version));
        }

        WriteReasonOnly(ref w, 0xF0, p.ReasonCode, p.Properties, version);
    }

    /// <summary>Size of a 5.0 property list with its length prefix; 0 before 5.0.</summary>
    internal static int PropertiesSize(MqttProperties? properties, MqttProtocolVersion version) =>
        version == MqttProtocolVersion.V500
            ? MqttPropertiesWriter.GetSize(MqttPropertiesWriter.GetContentSize(properties))
            : 0;

    internal static void WriteProperties(ref MqttWriter w, MqttProperties? properties, MqttProtocolVersion version)
    {
        if (version == MqttProtocolVersion.V500)
        {
            MqttPropertiesWriter.Write(ref w, properties, MqttPropertiesWriter.GetContentSize(properties));
        }
    }

    private static void WriteCodes(ref MqttWriter w, IReadOnlyList<byte> codes)
    {
        for (int i = 0; i < codes.Count; i++)
        {
            w.WriteByte(codes[i]);
        }
    }
}
