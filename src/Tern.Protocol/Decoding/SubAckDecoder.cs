namespace Tern.Protocol;

/// <summary>Decodes SUBACK (spec 3.9).</summary>
internal static class SubAckDecoder
{
    public static SubAckPacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        ushort packetId = r.ReadPacketId();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Ack)
            : null;
        var codes = new List<byte>((int)Math.Min(r.Remaining, 64));
        while (!r.End)
        {
            byte code = r.ReadByte();
            if (version != MqttProtocolVersion.V500 && code is not (0x00 or 0x01 or 0x02 or 0x80))
            {
                ThrowHelper.ThrowProtocolError($"SUBACK return code 0x{code:X2} is reserved [MQTT-3.9.3-2].");
            }

            codes.Add(code);
        }

        if (codes.Count == 0)
        {
            ThrowHelper.ThrowProtocolError("SUBACK without return codes.");
        }

        return new SubAckPacket { PacketId = packetId, ReasonCodes = codes, Properties = properties };
    }
}
