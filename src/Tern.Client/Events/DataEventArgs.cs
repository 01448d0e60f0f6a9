using Tern.Protocol;

namespace Tern.Client;

/// <summary>
/// One chunk of an incoming message, at most <see cref="MqttClientOptions.BufferSize"/> bytes. As in
/// esp-mqtt, a larger payload arrives as several events with increasing <see cref="CurrentDataOffset"/>
/// and the same <see cref="TotalDataLength"/>; only the first carries <see cref="Topic"/>.
/// <see cref="Message"/> (the whole message) is on every chunk for code that wants it at once.
/// </summary>
public sealed class DataEventArgs(MqttClient client, MqttMessage message, int offset, int length, bool first)
    : MqttClientEventArgs(client)
{
    public MqttMessage Message { get; } = message;

    /// <summary>Packet id; 0 for QoS 0.</summary>
    public int MessageId => Message.MessageId;

    /// <summary>The topic on the first chunk, null on the following ones (esp-mqtt's behaviour).</summary>
    public string? Topic { get; } = first ? message.Topic : null;

    public ReadOnlyMemory<byte> Payload { get; } = message.Payload.Slice(offset, length);

    public int CurrentDataOffset { get; } = offset;

    public int TotalDataLength => Message.Payload.Length;

    public MqttQoS QoS => Message.QoS;

    public bool Retain => Message.Retain;

    public bool Dup => Message.Dup;

    /// <summary>MQTT 5 publish properties (content type, response topic, correlation data, user properties, ...).</summary>
    public MqttProperties? Properties => Message.Properties;
}
