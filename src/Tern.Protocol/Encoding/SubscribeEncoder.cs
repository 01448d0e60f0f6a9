namespace Tern.Protocol;

/// <summary>Encodes SUBSCRIBE (spec 3.8) and UNSUBSCRIBE (spec 3.10); both carry fixed-header flags 0b0010.</summary>
internal static class SubscribeEncoder
{
    public static int GetSubscribeLength(SubscribePacket p, MqttProtocolVersion version)
    {
        int n = 2 + ControlEncoder.PropertiesSize(p.Properties, version);
        IReadOnlyList<TopicSubscription> subscriptions = p.Subscriptions;
        for (int i = 0; i < subscriptions.Count; i++)
        {
            n += MqttWriter.GetStringSize(subscriptions[i].Filter) + 1;
        }

        return n;
    }

    public static void WriteSubscribe(ref MqttWriter w, SubscribePacket p, MqttProtocolVersion version)
    {
        w.WriteFixedHeader(0x82, GetSubscribeLength(p, version));
        w.WriteUInt16(p.PacketId);
        ControlEncoder.WriteProperties(ref w, p.Properties, version);
        IReadOnlyList<TopicSubscription> subscriptions = p.Subscriptions;
        for (int i = 0; i < subscriptions.Count; i++)
        {
            w.WriteString(subscriptions[i].Filter);
            w.WriteByte(GetOptionsByte(subscriptions[i].Options, version));
        }
    }

    public static int GetUnsubscribeLength(UnsubscribePacket p, MqttProtocolVersion version)
    {
        int n = 2 + ControlEncoder.PropertiesSize(p.Properties, version);
        IReadOnlyList<string> filters = p.Filters;
        for (int i = 0; i < filters.Count; i++)
        {
            n += MqttWriter.GetStringSize(filters[i]);
        }

        return n;
    }

    public static void WriteUnsubscribe(ref MqttWriter w, UnsubscribePacket p, MqttProtocolVersion version)
    {
        w.WriteFixedHeader(0xA2, GetUnsubscribeLength(p, version));
        w.WriteUInt16(p.PacketId);
        ControlEncoder.WriteProperties(ref w, p.Properties, version);
        IReadOnlyList<string> filters = p.Filters;
        for (int i = 0; i < filters.Count; i++)
        {
            w.WriteString(filters[i]);
        }
    }

    /// <summary>Before 5.0 the options byte is the requested QoS alone (spec 3.8.3.1).</summary>
    private static byte GetOptionsByte(SubscriptionOptions o, MqttProtocolVersion version)
    {
        int b = (int)o.QoS & 0x03;
        if (version == MqttProtocolVersion.V500)
        {
            b |= (o.NoLocal ? 0x04 : 0) | (o.RetainAsPublished ? 0x08 : 0) | ((o.RetainHandling & 0x03) << 4);
        }

        return (byte)b;
    }
}
