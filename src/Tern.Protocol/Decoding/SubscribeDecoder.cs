namespace Tern.Protocol;

/// <summary>
/// Decodes SUBSCRIBE (spec 3.8). Topic filters are only checked for UTF-8: a syntactically invalid
/// filter is answered per filter in SUBACK (0x80 / 0x8F) by the broker, not by closing the connection.
/// </summary>
internal static class SubscribeDecoder
{
    public static SubscribePacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        ushort packetId = r.ReadPacketId();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Subscribe)
            : null;
        var subscriptions = new List<TopicSubscription>();
        while (!r.End)
        {
            string filter = r.ReadString();
            SubscriptionOptions options = ReadOptions(r.ReadByte(), version);
            if (options.NoLocal && MqttTopic.TryParseSharedSubscription(filter, out _, out _))
            {
                ThrowHelper.ThrowProtocolError("No Local on a shared subscription [MQTT-3.8.3-4].");
            }

            subscriptions.Add(new TopicSubscription(filter, options));
        }

        if (subscriptions.Count == 0)
        {
            ThrowHelper.ThrowProtocolError("SUBSCRIBE without topic filters [MQTT-3.8.3-3].");
        }

        return new SubscribePacket { PacketId = packetId, Subscriptions = subscriptions, Properties = properties };
    }

    /// <summary>
    /// Bits 7-6 are reserved in 5.0 and bits 7-2 before it [MQTT-3.8.3-5] (3.1.1: [MQTT-3-8.3-4]);
    /// QoS 3 and Retain Handling 3 are invalid.
    /// </summary>
    private static SubscriptionOptions ReadOptions(byte b, MqttProtocolVersion version)
    {
        byte reserved = version == MqttProtocolVersion.V500 ? (byte)0xC0 : (byte)0xFC;
        if ((b & reserved) != 0)
        {
            ThrowHelper.ThrowMalformed($"Subscription options 0x{b:X2} set reserved bits [MQTT-3.8.3-5].");
        }

        int qos = b & 0x03;
        if (qos == 3)
        {
            ThrowHelper.ThrowMalformed("Subscription QoS 3 is invalid [MQTT-3.8.3-5].");
        }

        byte retainHandling = (byte)((b >> 4) & 0x03);
        if (retainHandling == 3)
        {
            ThrowHelper.ThrowMalformed("Retain Handling 3 is invalid (spec 3.8.3.1).");
        }

        return new SubscriptionOptions(
            (MqttQoS)qos,
            NoLocal: (b & 0x04) != 0,
            RetainAsPublished: (b & 0x08) != 0,
            RetainHandling: retainHandling);
    }
}
