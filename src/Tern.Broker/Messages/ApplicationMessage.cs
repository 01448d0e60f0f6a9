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
        ExpiresAt = properties?.MessageExpiryInterval is { } expiry ? createdTimestamp + (expiry * 1000L) : long.MaxValue;
    }

    public string Topic { get; }

    public byte[] TopicUtf8 { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    public MqttQoS QoS { get; }

    /// <summary>The RETAIN flag as the publisher set it.</summary>
    public bool Retain { get; }

    public MqttProperties? Properties { get; }

    public string? PublisherClientId { get; }

    /// <summary>The in-process publisher it came from (a bridge), which does not get it back; null for clients.</summary>
    public string? Origin { get; init; }

    /// <summary>The broker's clock (<see cref="BrokerClock"/>, ms) when it received it.</summary>
    public long CreatedTimestamp { get; }

    /// <summary>The broker's clock (ms) after which it must not be delivered (MQTT 5 message expiry).</summary>
    public long ExpiresAt { get; }

    public bool HasExpiry => ExpiresAt != long.MaxValue;

    public bool IsExpired(long now) => now >= ExpiresAt;

    /// <summary>The store's key for it (0: never stored). This and the next three are the store writer's alone.</summary>
    internal long StoreId;

    /// <summary>Stored deliveries and retained entries that reference it.</summary>
    internal int StoreRefs;

    /// <summary>Its row exists in the store.</summary>
    internal bool StoreHasRow;

    /// <summary>The last batch whose reference counting touched it.</summary>
    internal long StoreTouchedIn;

    /// <summary>Seconds left for the forwarded message expiry interval [MQTT-3.3.2-6].</summary>
    public uint RemainingExpirySeconds(long now) => (uint)Math.Max(0, (ExpiresAt - now + 999) / 1000);
}
