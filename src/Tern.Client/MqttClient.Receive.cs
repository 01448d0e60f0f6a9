using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>Handles one packet from the server; returns a newly delivered message, if any.</summary>
    private MqttMessage? OnPacket(Connection connection, MqttPacket packet)
    {
        switch (packet)
        {
            case PublishPacket publish:
                return OnPublish(connection, publish);
            case PubAckPacket ack:
                OnPublishAcknowledged(ack.PacketId, MqttQoS.AtLeastOnce, ack.ReasonCode, ack.Properties);
                break;
            case PubRecPacket rec:
                OnPubRec(connection, rec);
                break;
            case PubRelPacket rel:
                lock (_gate)
                {
                    _inboundQoS2.Remove(rel.PacketId);
                }

                connection.Enqueue(new SendItem(new PubCompPacket { PacketId = rel.PacketId }));
                break;
            case PubCompPacket comp:
                OnPublishAcknowledged(comp.PacketId, MqttQoS.ExactlyOnce, comp.ReasonCode, comp.Properties);
                break;
            case SubAckPacket subAck:
                OnSubAck(subAck);
                break;
            case UnsubAckPacket unsubAck:
                OnUnsubAck(unsubAck);
                break;
            case PingRespPacket:
                connection.PingSentTicks = 0;
                break;
            case DisconnectPacket disconnect:
                connection.ServerDisconnect = disconnect;
                break;
            default:
                throw MqttProtocolException.ProtocolError($"A client does not accept {packet.Type} here.");
        }

        return null;
    }

    private MqttMessage? OnPublish(Connection connection, PublishPacket publish)
    {
        string topic = ResolveTopicAlias(connection, publish);
        bool deliver = true;
        if (publish.QoS == MqttQoS.ExactlyOnce)
        {
            lock (_gate)
            {
                // Until PUBREL, a PUBLISH with this id is a resend of a message already delivered.
                deliver = _inboundQoS2.Add(publish.PacketId);
            }
        }

        MqttMessage? message = null;
        if (deliver)
        {
            message = new MqttMessage(topic, publish.Payload, publish.QoS, publish.Retain, publish.Dup, publish.PacketId, publish.Properties);
            if (Options.BeforeAcknowledge is { } beforeAcknowledge)
            {
                try
                {
                    beforeAcknowledge(message);
                }
                catch when (publish.QoS == MqttQoS.ExactlyOnce)
                {
                    // Not taken: forget the id so that the resent PUBLISH is a new delivery.
                    lock (_gate)
                    {
                        _inboundQoS2.Remove(publish.PacketId);
                    }

                    throw;
                }
            }

            PostData(message);
        }

        if (publish.QoS == MqttQoS.AtLeastOnce)
        {
            connection.Enqueue(new SendItem(new PubAckPacket { PacketId = publish.PacketId }));
        }
        else if (publish.QoS == MqttQoS.ExactlyOnce)
        {
            connection.Enqueue(new SendItem(new PubRecPacket { PacketId = publish.PacketId }));
        }

        return message;
    }

    private static string ResolveTopicAlias(Connection connection, PublishPacket publish)
    {
        if (publish.Properties?.TopicAlias is not { } alias)
        {
            return publish.Topic;
        }

        if (publish.Topic.Length > 0)
        {
            connection.TopicAliases[alias] = publish.Topic;
            return publish.Topic;
        }

        return connection.TopicAliases.TryGetValue(alias, out var topic)
            ? topic
            : throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, $"Unknown topic alias {alias}.");
    }

    /// <summary>Splits the payload into Data events of at most BufferSize bytes (esp-mqtt's deliver_publish loop).</summary>
    private void PostData(MqttMessage message)
    {
        int chunk = Math.Max(1, Options.BufferSize);
        int total = message.Payload.Length;
        int offset = 0;
        do
        {
            int length = Math.Min(chunk, total - offset);
            _events.Post(new DataEventArgs(this, message, offset, length, offset == 0));
            offset += length;
        }
        while (offset < total);
    }

    private void OnPubRec(Connection connection, PubRecPacket rec)
    {
        OutboxItem? failed = null;
        lock (_gate)
        {
            var item = _outbox.Find(rec.PacketId);
            if (item is null || item.Packet.QoS != MqttQoS.ExactlyOnce)
            {
                // Unknown id (e.g. dropped from the outbox): still release it so the server can finish.
                connection.Enqueue(new SendItem(new PubRelPacket { PacketId = rec.PacketId, ReasonCode = ReasonCode.PacketIdentifierNotFound }));
                return;
            }

            if ((byte)rec.ReasonCode >= 0x80)
            {
                // MQTT 5: a failed PUBREC ends the flow; no PUBREL follows.
                RemoveFromOutbox(item);
                failed = item;
            }
            else
            {
                item.State = OutboxState.ReleasePending;
            }
        }

        if (failed is null)
        {
            connection.Signal();
            return;
        }

        failed.Completion?.TrySetResult(new PublishResult(rec.PacketId, rec.ReasonCode, rec.Properties?.ReasonString));
        _events.Post(new PublishedEventArgs(this, rec.PacketId, rec.ReasonCode));
    }

    private void OnPublishAcknowledged(ushort packetId, MqttQoS qos, ReasonCode reasonCode, MqttProperties? properties)
    {
        OutboxItem? item;
        Connection? connection;
        lock (_gate)
        {
            item = _outbox.Find(packetId);
            if (item is null || item.Packet.QoS != qos)
            {
                return; // a late ack for a message already dropped
            }

            RemoveFromOutbox(item);
            connection = _connection;
        }

        item.Completion?.TrySetResult(new PublishResult(packetId, reasonCode, properties?.ReasonString));
        _events.Post(new PublishedEventArgs(this, packetId, reasonCode));
        connection?.Signal(); // a slot of the receive maximum is free again
    }

    /// <summary>Removes an item and frees its packet id. Caller holds the lock.</summary>
    private void RemoveFromOutbox(OutboxItem item)
    {
        _outbox.Remove(item);
        if (item.PacketId != 0)
        {
            _ids.Release(item.PacketId);
        }
    }
}
