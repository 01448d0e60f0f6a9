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

/// <summary>An operation could not be done: not connected, outbox full, connection lost or client stopped.</summary>
public sealed class MqttClientException(string message, Exception? inner = null) : Exception(message, inner);
