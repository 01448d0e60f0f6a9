using System.Text;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// A published message as the broker routes it: built once per PUBLISH and shared, payload and
/// topic bytes included, by every session it is delivered to.
/// </summary>
internal sealed class ApplicationMessage
{
    public ApplicationMessage(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos, bool retain, MqttProperties? properties, string? publisherClientId, long createdTimestamp)
    {
        Topic = topic;
        TopicUtf8 = Encoding.UTF8.GetBytes(topic);
        Payload = payload;
        QoS = qos;
        Retain = retain;
        Properties = properties;
        PublisherClientId = publisherClientId;
        CreatedTimestamp = createdTimestamp;
    }

    public string Topic { get; }

    public byte[] TopicUtf8 { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    public MqttQoS QoS { get; }

    /// <summary>The RETAIN flag as the publisher set it.</summary>
    public bool Retain { get; }

    public MqttProperties? Properties { get; }

    public string? PublisherClientId { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the broker received it.</summary>
    public long CreatedTimestamp { get; }
}
