using Tern.Protocol;

namespace Tern.Broker;

/// <summary>A delivery to one session: the shared message and what differs per subscriber.</summary>
/// <param name="Message">The routed message.</param>
/// <param name="QoS">min(publish QoS, granted QoS).</param>
/// <param name="Retain">The RETAIN flag this subscriber sees.</param>
/// <param name="SubscriptionIds">MQTT 5 subscription identifiers of the matching subscriptions.</param>
/// <param name="Group">The shared subscription group it came through, if any.</param>
internal readonly record struct Delivery(ApplicationMessage Message, MqttQoS QoS, bool Retain, uint[]? SubscriptionIds, SharedGroup? Group)
{
    /// <summary>Its key in a stored session (see <c>MqttSession.Persistence.cs</c>); 0 until a stored session takes it.</summary>
    public long Sequence { get; init; }
}

/// <summary>A QoS 1/2 PUBLISH sent to the client and not yet fully acknowledged.</summary>
internal sealed class InflightMessage(Delivery delivery)
{
    public Delivery Delivery { get; } = delivery;

    /// <summary>QoS 2: PUBREC arrived and PUBREL was sent; only PUBCOMP is awaited.</summary>
    public bool Released { get; set; }

    /// <summary>Sent on an earlier connection and not yet again on the current one (its window was full).</summary>
    public bool Unsent { get; set; }

    /// <summary>Its packet id, and its neighbours in the order of sending (kept by <see cref="InflightWindow"/>).</summary>
    internal ushort PacketId;

    internal InflightMessage? Previous;

    internal InflightMessage? Next;
}
