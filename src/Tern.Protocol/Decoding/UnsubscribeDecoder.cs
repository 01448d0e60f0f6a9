namespace Tern.Protocol;

/// <summary>Decodes UNSUBSCRIBE (spec 3.10). Filters are only checked for UTF-8, as in SUBSCRIBE.</summary>
internal static class UnsubscribeDecoder
{
    public static UnsubscribePacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        ushort packetId = r.ReadPacketId();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Unsubscribe)
            : null;
        var filters = new List<string>();
        while (!r.End)
        {
            filters.Add(r.ReadString());
        }

        if (filters.Count == 0)
        {
            ThrowHelper.ThrowProtocolError("UNSUBSCRIBE without topic filters [MQTT-3.10.3-2].");
        }

        return new UnsubscribePacket { PacketId = packetId, Filters = filters, Properties = properties };
    }
}
