namespace Tern.Protocol;

/// <summary>
/// Encodes CONNECT (spec 3.1) in the form of <see cref="ConnectPacket.ProtocolVersion"/>:
/// "MQIsdp" level 3, "MQTT" level 4 or "MQTT" level 5 with properties.
/// </summary>
internal static class ConnectEncoder
{
    public static int GetRemainingLength(ConnectPacket p)
    {
        MqttProtocolVersion version = p.ProtocolVersion;
        bool v5 = version == MqttProtocolVersion.V500;
        int n = 2 + ProtocolName(version).Length + 1 + 1 + 2;
        if (v5)
        {
            n += MqttPropertiesWriter.GetSize(MqttPropertiesWriter.GetContentSize(p.Properties));
        }

        n += MqttWriter.GetStringSize(p.ClientId);
        if (p.Will is { } will)
        {
            if (v5)
            {
                n += MqttPropertiesWriter.GetSize(MqttPropertiesWriter.GetContentSize(will.Properties));
            }

            n += MqttWriter.GetStringSize(will.Topic) + 2 + will.Payload.Length;
        }

        n += p.Username is null ? 0 : MqttWriter.GetStringSize(p.Username);
        n += p.Password is { } password ? 2 + password.Length : 0;
        return n;
    }

    public static void Write(ref MqttWriter w, ConnectPacket p)
    {
        MqttProtocolVersion version = p.ProtocolVersion;
        bool v5 = version == MqttProtocolVersion.V500;
        w.WriteFixedHeader(0x10, GetRemainingLength(p));
        w.WriteBinary(ProtocolName(version));
        w.WriteByte((byte)((byte)version | (p.IsBridge ? 0x80 : 0)));
        w.WriteByte(GetFlags(p));
        w.WriteUInt16(p.KeepAlive);
        if (v5)
        {
            MqttPropertiesWriter.Write(ref w, p.Properties, MqttPropertiesWriter.GetContentSize(p.Properties));
        }

        w.WriteString(p.ClientId);
        if (p.Will is { } will)
        {
            if (v5)
            {
                MqttPropertiesWriter.Write(ref w, will.Properties, MqttPropertiesWriter.GetContentSize(will.Properties));
            }

            w.WriteString(will.Topic);
            w.WriteBinary(will.Payload.Span);
        }

        if (p.Username is not null)
        {
            w.WriteString(p.Username);
        }

        if (p.Password is { } password)
        {
            w.WriteBinary(password.Span);
        }
    }

    private static ReadOnlySpan<byte> ProtocolName(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V310 => "MQIsdp"u8,
        MqttProtocolVersion.V311 or MqttProtocolVersion.V500 => "MQTT"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "Protocol version must be 3, 4 or 5."),
    };

    private static byte GetFlags(ConnectPacket p)
    {
        int flags = p.CleanSession ? 0x02 : 0;
        if (p.Will is { } will)
        {
            flags |= 0x04 | ((int)will.QoS << 3) | (will.Retain ? 0x20 : 0);
        }

        flags |= p.Password is null ? 0 : 0x40;
        flags |= p.Username is null ? 0 : 0x80;
        return (byte)flags;
    }
}
