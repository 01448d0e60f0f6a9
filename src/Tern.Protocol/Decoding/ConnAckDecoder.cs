namespace Tern.Protocol;

/// <summary>Decodes CONNACK (spec 3.2).</summary>
internal static class ConnAckDecoder
{
    public static ConnAckPacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        byte flags = r.ReadByte();

        // MQTT 3.1 had no session-present bit: the byte was reserved and is ignored.
        if (version != MqttProtocolVersion.V310 && (flags & 0xFE) != 0)
        {
            ThrowHelper.ThrowMalformed("CONNACK flags bits 7-1 are reserved [MQTT-3.2.2-1].");
        }

        byte reasonCode = r.ReadByte();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.ConnAck)
            : null;
        return new ConnAckPacket
        {
            SessionPresent = version != MqttProtocolVersion.V310 && (flags & 0x01) != 0,
            ReasonCode = reasonCode,
            Properties = properties,
        };
    }
}
