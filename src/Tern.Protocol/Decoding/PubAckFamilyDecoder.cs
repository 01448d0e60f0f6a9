namespace Tern.Protocol;

/// <summary>
/// Decodes PUBACK, PUBREC, PUBREL and PUBCOMP (spec 3.4-3.7), which share one layout: packet id,
/// then in 5.0 an optional reason code and optional properties (a 2-byte body means Success).
/// </summary>
internal static class PubAckFamilyDecoder
{
    public static MqttPacket Decode(ref MqttReader r, MqttPacketType type, MqttProtocolVersion version)
    {
        ushort packetId = r.ReadPacketId();
        var reasonCode = ReasonCode.Success;
        MqttProperties? properties = null;
        if (version == MqttProtocolVersion.V500 && !r.End)
        {
            reasonCode = (ReasonCode)r.ReadByte();
            if (!r.End)
            {
                properties = MqttPropertiesReader.Read(ref r, PropertyContext.Ack);
            }
        }

        return type switch
        {
            MqttPacketType.PubAck => new PubAckPacket { PacketId = packetId, ReasonCode = reasonCode, Properties = properties },
            MqttPacketType.PubRec => new PubRecPacket { PacketId = packetId, ReasonCode = reasonCode, Properties = properties },
            MqttPacketType.PubRel => new PubRelPacket { PacketId = packetId, ReasonCode = reasonCode, Properties = properties },
            _ => new PubCompPacket { PacketId = packetId, ReasonCode = reasonCode, Properties = properties },
        };
    }
}
