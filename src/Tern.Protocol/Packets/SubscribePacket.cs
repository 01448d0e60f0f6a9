namespace Tern.Protocol;

/// <summary>SUBSCRIBE (spec 3.8).</summary>
public sealed record SubscribePacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Subscribe;

    public ushort PacketId { get; init; }
    public required IReadOnlyList<TopicSubscription> Subscriptions { get; init; }
    public MqttProperties? Properties { get; init; }
}

/// <summary>One topic filter of a SUBSCRIBE with its options byte.</summary>
public readonly record struct TopicSubscription(string Filter, SubscriptionOptions Options);

/// <summary>Subscription options; only <see cref="QoS"/> exists before MQTT 5.0.</summary>
public readonly record struct SubscriptionOptions(
    MqttQoS QoS,
    bool NoLocal = false,
    bool RetainAsPublished = false,
    byte RetainHandling = 0);
