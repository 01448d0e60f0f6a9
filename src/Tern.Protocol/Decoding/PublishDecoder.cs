namespace Tern.Protocol;

/// <summary>Decodes PUBLISH (spec 3.3).</summary>
internal static class PublishDecoder
{
    public static PublishPacket Decode(ref MqttReader r, byte flags, MqttProtocolVersion version)
    {
        var qos = (MqttQoS)((flags >> 1) & 0x03);
        bool dup = (flags & 0x08) != 0;
        if ((int)qos == 3)
        {
            ThrowHelper.ThrowMalformed("PUBLISH QoS 3 is invalid [MQTT-3.3.1-4].");
        }

        if (dup && qos == MqttQoS.AtMostOnce)
        {
            ThrowHelper.ThrowMalformed("DUP must be 0 for QoS 0 [MQTT-3.3.1-2].");
        }

        string topic = r.ReadString();
        ushort packetId = qos == MqttQoS.AtMostOnce ? (ushort)0 : r.ReadPacketId();
        MqttProperties? properties = version == MqttProtocolVersion.V500
            ? MqttPropertiesReader.Read(ref r, PropertyContext.Publish)
            : null;
        CheckTopic(topic, properties, version);
        return new PublishPacket
        {
            Topic = topic,
            QoS = qos,
            Dup = dup,
            Retain = (flags & 0x01) != 0,
            PacketId = packetId,
            Properties = properties,
            Payload = r.ReadRemaining(),
        };
    }

    /// <summary>
    /// No wildcards in a topic name [MQTT-3.3.2-2]; non-empty [MQTT-4.7.3-1], except in 5.0 where an
    /// empty name stands for the one a Topic Alias maps to [MQTT-3.3.2-1].
    /// </summary>
    private static void CheckTopic(string topic, MqttProperties? properties, MqttProtocolVersion version)
    {
        if (topic.Length == 0 && version == MqttProtocolVersion.V500 && properties?.TopicAlias is not null)
        {
            return;
        }

        if (!MqttTopic.IsValidTopicName(topic))
        {
            ThrowHelper.Throw(
                version == MqttProtocolVersion.V500 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
                $"PUBLISH topic \"{topic}\" is not a valid topic name [MQTT-3.3.2-2].");
        }
    }
}
