using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Code inside the process that takes messages from the broker as a subscriber would (a bridge
/// forwarding to another broker). Added with <see cref="MqttBroker.AddInProcessSubscriber"/>.
/// </summary>
public interface IInProcessSubscriber
{
    /// <summary>The topic filters it wants; read once, when it is added.</summary>
    IReadOnlyList<string> Filters { get; }

    /// <summary>
    /// Messages published with this origin (<see cref="MqttBroker.Publish(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?, string?)"/>)
    /// are not given back to it: the MQTT 5 no-local rule, so that a bridge does not loop what it brought in.
    /// </summary>
    string Origin { get; }

    /// <summary>
    /// A message that matched one of the filters, once per message however many matched. Called on the
    /// publisher's thread while it routes: must not block (queue the message and return).
    /// </summary>
    void OnMessage(InProcessMessage message);
}

/// <summary>A routed message as an <see cref="IInProcessSubscriber"/> sees it; the payload is shared, never changed.</summary>
/// <param name="Topic">The topic name it was published to.</param>
/// <param name="Payload">The payload.</param>
/// <param name="QoS">The QoS it was published with.</param>
/// <param name="Retain">The RETAIN flag as published.</param>
/// <param name="Properties">The MQTT 5 PUBLISH properties, or null.</param>
public readonly record struct InProcessMessage(string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, bool Retain, MqttProperties? Properties);
