using System.Text;
using Tern.Protocol;

namespace Tern.Client;

/// <summary>A whole received application message.</summary>
public sealed record MqttMessage(
    string Topic, ReadOnlyMemory<byte> Payload, MqttQoS QoS, bool Retain, bool Dup, int MessageId, MqttProperties? Properties)
{
    /// <summary>The payload decoded as UTF-8.</summary>
    public string PayloadText => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>Outcome of <see cref="MqttClient.PublishAsync(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?, CancellationToken)"/>.</summary>
public sealed record PublishResult(int MessageId, ReasonCode ReasonCode, string? ReasonString = null)
{
    /// <summary>Success or "no matching subscribers" (0x10), which still delivered to the server.</summary>
    public bool IsSuccess => (byte)ReasonCode < 0x80;
}

/// <summary>Outcome of a SUBSCRIBE: the granted QoS or a failure code (0x80+) per filter.</summary>
public sealed record SubscribeResult(int MessageId, IReadOnlyList<byte> ReasonCodes, MqttProperties? Properties)
{
    public bool IsSuccess => ReasonCodes.All(c => c < 0x80);
}

/// <summary>Outcome of an UNSUBSCRIBE; <see cref="ReasonCodes"/> is empty before MQTT 5.</summary>
public sealed record UnsubscribeResult(int MessageId, IReadOnlyList<byte> ReasonCodes);

/// <summary>An operation could not be done: not connected, outbox full, connection lost or client stopped.</summary>
public sealed class MqttClientException(string message, Exception? inner = null) : Exception(message, inner);
