namespace Tern.Protocol;

/// <summary>Decodes CONNECT (spec 3.1) for MQTT 3.1, 3.1.1 and 5.0.</summary>
internal static class ConnectDecoder
{
    private const byte UsernameFlag = 0x80;
    private const byte PasswordFlag = 0x40;
    private const byte WillRetainFlag = 0x20;
    private const byte WillQoSMask = 0x18;
    private const byte WillFlag = 0x04;
    private const byte CleanSessionFlag = 0x02;
    private const byte ReservedFlag = 0x01;

    public static ConnectPacket Decode(ref MqttReader r)
    {
        MqttProtocolVersion version = ReadProtocol(ref r, out bool bridge);
        byte flags = r.ReadByte();
        CheckFlags(flags, version);
        ushort keepAlive = r.ReadUInt16();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Connect)
            : null;

        // MQTT 3.1 limits the client id to 23 characters; the broker decides whether to enforce it.
        string clientId = r.ReadString();
        WillMessage? will = (flags & WillFlag) != 0 ? ReadWill(ref r, flags, version) : null;
        string? username = (flags & UsernameFlag) != 0 ? r.ReadString() : null;
        byte[]? password = (flags & PasswordFlag) != 0 ? r.ReadBinary() : null;
        return new ConnectPacket
        {
            ProtocolVersion = version,
            IsBridge = bridge,
            ClientId = clientId,
            CleanSession = (flags & CleanSessionFlag) != 0,
            KeepAlive = keepAlive,
            Username = username,
            Password = password is null ? null : (ReadOnlyMemory<byte>?)password,
            Will = will,
            Properties = properties,
        };
    }

    /// <summary>
    /// Accepts "MQIsdp" level 3, "MQTT" level 4 and "MQTT" level 5, and 3 or 4 with the high bit set
    /// (0x83, 0x84: a Mosquitto-style bridge, see <see cref="ConnectPacket.IsBridge"/>). Anything else
    /// is refused with UnsupportedProtocolVersion so the broker can answer CONNACK 0x01 / 0x84 [MQTT-3.1.2-2].
    /// </summary>
    private static MqttProtocolVersion ReadProtocol(ref MqttReader r, out bool bridge)
    {
        string name = r.ReadString();
        byte level = r.ReadByte();
        bridge = level is 0x83 or 0x84;
        if (bridge)
        {
            level &= 0x7F;
        }

        bool ok = (name, level) switch
        {
            ("MQIsdp", 3) => true,
            ("MQTT", 4 or 5) => true,
            _ => false,
        };
        if (!ok)
        {
            ThrowHelper.Throw(
                ReasonCode.UnsupportedProtocolVersion,
                $"Unsupported protocol name/level \"{name}\"/{level} [MQTT-3.1.2-1] [MQTT-3.1.2-2].");
        }

        return (MqttProtocolVersion)level;
    }

    private static void CheckFlags(byte flags, MqttProtocolVersion version)
    {
        if ((flags & ReservedFlag) != 0)
        {
            ThrowHelper.ThrowMalformed("CONNECT reserved flag must be 0 [MQTT-3.1.2-3].");
        }

        int willQoS = (flags & WillQoSMask) >> 3;
        if ((flags & WillFlag) == 0 && (willQoS != 0 || (flags & WillRetainFlag) != 0))
        {
            ThrowHelper.ThrowMalformed("Will QoS and Will Retain must be 0 without a will [MQTT-3.1.2-13] [MQTT-3.1.2-15].");
        }

        if (willQoS == 3)
        {
            ThrowHelper.ThrowMalformed("Will QoS 3 is invalid [MQTT-3.1.2-14].");
        }

        if (version != MqttProtocolVersion.V500 && (flags & PasswordFlag) != 0 && (flags & UsernameFlag) == 0)
        {
            ThrowHelper.ThrowMalformed("Password flag without user name flag [MQTT-3.1.2-22].");
        }
    }

    private static WillMessage ReadWill(ref MqttReader r, byte flags, MqttProtocolVersion version)
    {
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Will)
            : null;
        string topic = r.ReadString();
        if (!MqttTopic.IsValidTopicName(topic))
        {
            ThrowHelper.Throw(
                version == MqttProtocolVersion.V500 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
                "Will topic is not a valid topic name [MQTT-3.1.3-11].");
        }

        return new WillMessage
        {
            Topic = topic,
            Payload = r.ReadBinary(),
            QoS = (MqttQoS)((flags & WillQoSMask) >> 3),
            Retain = (flags & WillRetainFlag) != 0,
            Properties = properties,
        };
    }
}
