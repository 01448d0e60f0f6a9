namespace Tern.Protocol;

/// <summary>Decodes UNSUBACK (spec 3.11): only a packet id before 5.0; id, properties and reason codes in 5.0.</summary>
internal static class UnsubAckDecoder
{
    public static UnsubAckPacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        ushort packetId = r.ReadPacketId();
        if (version != MqttProtocolVersion.V500)
        {
            return new UnsubAckPacket { PacketId = packetId };
        }

        MqttProperties? properties = MqttPropertiesReader.Read(ref r, PropertyContext.Ack);
        var codes = new List<byte>((int)Math.Min(r.Remaining, 64));
        while (!r.End)
        {
            codes.Add(r.ReadByte());
        }

        if (codes.Count == 0)
        {
            ThrowHelper.ThrowProtocolError("UNSUBACK without reason codes.");
        }

        return new UnsubAckPacket { PacketId = packetId, ReasonCodes = codes, Properties = properties };
    }
}
