using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One retained message, as <see cref="MqttBroker.GetRetainedMessages"/> saw it.</summary>
/// <param name="Topic">Its topic.</param>
/// <param name="Payload">The payload (shared with the store: do not change it).</param>
/// <param name="QoS">The QoS it was published with.</param>
/// <param name="StoredAt">When the broker received it.</param>
public sealed record RetainedSnapshot(string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, DateTimeOffset StoredAt);
