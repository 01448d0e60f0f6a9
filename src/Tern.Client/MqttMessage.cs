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

/// <summary>
/// An operation could not be done: not connected, outbox full, connection lost, client stopped, or
/// a message the server said (MQTT 5 CONNACK) it would not take.
/// </summary>
public sealed class MqttClientException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// For a message refused before sending because of the server's announced limits: the reason
    /// code the server would have answered (QoSNotSupported, RetainNotSupported, PacketTooLarge).
    /// </summary>
    public ReasonCode? ReasonCode { get; init; }
}
