using Tern.Protocol;

namespace Tern.Broker;

/// <summary>A QoS 1/2 PUBLISH sent to the client and not yet fully acknowledged.</summary>
internal sealed class InflightMessage(ApplicationMessage message, MqttQoS qos, bool retain)
{
    public ApplicationMessage Message { get; } = message;

    public MqttQoS QoS { get; } = qos;

    public bool Retain { get; } = retain;

    /// <summary>QoS 2: PUBREC arrived and PUBREL was sent; only PUBCOMP is awaited.</summary>
    public bool Released { get; set; }
}

/// <summary>A message waiting for an in-flight slot or for the client to come back.</summary>
internal readonly record struct QueuedMessage(ApplicationMessage Message, MqttQoS QoS, bool Retain);
