using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// The limits every publish meets, whether a client sends it or the REST API does: one place, one
/// wording. (Access control stays with the caller: a client's ACL answers are cached per connection.)
/// </summary>
public static class PublishRules
{
    /// <summary>Why a publish is refused under <paramref name="options"/>, or null when it is accepted.</summary>
    /// <param name="options">The broker's settings.</param>
    /// <param name="topic">The topic name (aliases resolved).</param>
    /// <param name="qos">The QoS asked for.</param>
    /// <param name="retain">The RETAIN flag.</param>
    /// <param name="payloadLength">The payload's size in bytes.</param>
    public static PublishRefusal? Check(BrokerOptions options, string topic, MqttQoS qos, bool retain, long payloadLength)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        if (!MqttTopic.IsValidTopicName(topic))
        {
            return new(ReasonCode.TopicNameInvalid, $"'{topic}' is not a valid topic name (no wildcards, not empty, no U+0000).");
        }

        if ((int)qos > options.MaximumQoS)
        {
            return new(ReasonCode.QoSNotSupported, $"QoS {(int)qos} is above Broker:MaximumQoS ({options.MaximumQoS}).");
        }

        if (retain && !options.RetainAvailable)
        {
            return new(ReasonCode.RetainNotSupported, "retained messages are not available (Broker:RetainAvailable is false).");
        }

        if (payloadLength > options.MaxPacketSize)
        {
            return new(ReasonCode.PacketTooLarge, $"the payload is {payloadLength} bytes; the largest allowed is Broker:MaxPacketSize ({options.MaxPacketSize}).");
        }

        if (CountLevels(topic) > options.MaxTopicLevels)
        {
            return new(ReasonCode.TopicNameInvalid, $"the topic has more than Broker:MaxTopicLevels ({options.MaxTopicLevels}) levels.");
        }

        return null;
    }

    /// <summary>Levels of a topic name or filter: one more than its '/' separators.</summary>
    public static int CountLevels(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return topic.AsSpan().Count('/') + 1;
    }
}

/// <summary>Why a publish is refused: the MQTT 5 reason code and a sentence naming the limit.</summary>
public sealed record PublishRefusal(ReasonCode Code, string Message);
