using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One retained message, as <see cref="MqttBroker.GetRetainedMessages"/> saw it.</summary>
/// <param name="Topic">Its topic.</param>
/// <param name="Payload">The payload (shared with the store: do not change it).</param>
/// <param name="QoS">The QoS it was published with.</param>
/// <param name="StoredAt">When the broker received it.</param>
/// <param name="PublisherClientId">The client id of its publisher; null when the broker itself published it, or when it was restored from the store.</param>
public sealed record RetainedSnapshot(string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, DateTimeOffset StoredAt, string? PublisherClientId = null);
