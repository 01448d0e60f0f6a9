namespace Tern.Broker;

/// <summary>What the metrics (<see cref="BrokerMetrics"/>) read that no other view gives: the messages by QoS.</summary>
public sealed partial class MqttBroker
{
    /// <summary>
    /// PUBLISH packets and bytes received from clients and sent to them since start: closed
    /// connections' counts plus the open ones', read in one pass. <paramref name="received"/> and
    /// <paramref name="sent"/> get the messages by QoS (index 0 to 2).
    /// </summary>
    internal void CountTraffic(Span<long> received, Span<long> sent, out long bytesReceived, out long bytesSent)
    {
        for (var qos = 0; qos < QoSCounts.Length; qos++)
        {
            received[qos] = Statistics.ClosedMessagesReceivedAt(qos);
            sent[qos] = Statistics.ClosedMessagesSentAt(qos);
        }

        bytesReceived = Statistics.ClosedBytesReceived;
        bytesSent = Statistics.ClosedBytesSent;

        // Enumerated in place (Keys would copy every connection), as GetSnapshot does.
        foreach (var (connection, _) in _connections)
        {
            for (var qos = 0; qos < QoSCounts.Length; qos++)
            {
                received[qos] += connection.MessagesReceivedAt(qos);
                sent[qos] += connection.MessagesSentAt(qos);
            }

            bytesReceived += connection.BytesReceived;
            bytesSent += connection.BytesSent;
        }
    }
}
