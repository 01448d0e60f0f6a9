using System.Globalization;
using System.Text;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// The MQTT 5 properties given with <c>-D command identifier value</c> (mosquitto's syntax), one
/// property set per packet kind.
/// </summary>
internal sealed class ClientProperties
{
    public MqttProperties Connect { get; private set; } = MqttProperties.Empty;

    public MqttProperties Publish { get; private set; } = MqttProperties.Empty;

    public MqttProperties Subscribe { get; private set; } = MqttProperties.Empty;

    public MqttProperties Will { get; private set; } = MqttProperties.Empty;

    public bool Any { get; private set; }

    /// <summary>Parses the words of all -D flags, in order.</summary>
    /// <exception cref="ClientUsageException">An unknown command or identifier, a missing or bad value.</exception>
    public static ClientProperties Parse(IReadOnlyList<string> words)
    {
        var result = new ClientProperties();
        int i = 0;
        while (i < words.Count)
        {
            if (words.Count - i < 3)
            {
                throw new ClientUsageException($"-D needs a command, an identifier and a value: '{string.Join(' ', words.Skip(i))}'.");
            }

            string rawCommand = words[i];
            string command = rawCommand.ToLowerInvariant();
            string identifier = words[i + 1].ToLowerInvariant();
            string value = words[i + 2];
            string? second = null;
            i += 3;
            if (identifier == "user-property")
            {
                if (i >= words.Count)
                {
                    throw new ClientUsageException($"-D {command} user-property needs a key and a value.");
                }

                second = words[i++];
            }

            result.Any = true;
            switch (command)
            {
                case "connect": result.Connect = ApplyConnect(result.Connect, identifier, value, second); break;
                case "publish": result.Publish = ApplyMessage(result.Publish, command, identifier, value, second); break;
                case "will":
                    result.Will = identifier == "will-delay-interval"
                        ? result.Will with { WillDelayInterval = UInt(command, identifier, value) }
                        : ApplyMessage(result.Will, command, identifier, value, second);
                    break;
                case "subscribe": result.Subscribe = ApplySubscribe(result.Subscribe, identifier, value, second); break;
                default:
                    throw new ClientUsageException($"-D: unknown or unsupported command '{rawCommand}' (use connect, publish, subscribe or will).");
            }
        }

        return result;
    }

    private static MqttProperties ApplyConnect(MqttProperties p, string id, string value, string? second) => id switch
    {
        "session-expiry-interval" => p with { SessionExpiryInterval = UInt("connect", id, value) },
        "receive-maximum" => p with { ReceiveMaximum = UShort("connect", id, value) },
        "maximum-packet-size" => p with { MaximumPacketSize = UInt("connect", id, value) },
        "topic-alias-maximum" => p with { TopicAliasMaximum = UShort("connect", id, value) },
        "user-property" => p with { UserProperties = [.. p.UserProperties ?? [], new MqttUserProperty(value, second!)] },
        _ => throw Unknown("connect", id, "session-expiry-interval, receive-maximum, maximum-packet-size, topic-alias-maximum, user-property"),
    };

    private static MqttProperties ApplyMessage(MqttProperties p, string command, string id, string value, string? second) => id switch
    {
        "content-type" => p with { ContentType = value },
        "response-topic" => MqttTopic.IsValidTopicName(value)
            ? p with { ResponseTopic = value }
            : throw new ClientUsageException($"-D {command} response-topic: '{value}' is not a valid topic name."),
        "correlation-data" => p with { CorrelationData = Encoding.UTF8.GetBytes(value) },
        "message-expiry-interval" => p with { MessageExpiryInterval = UInt(command, id, value) },
        "payload-format-indicator" => p with { PayloadFormatIndicator = value is "0" or "1" ? byte.Parse(value, CultureInfo.InvariantCulture) : throw new ClientUsageException($"-D {command} payload-format-indicator is 0 (bytes) or 1 (UTF-8), not '{value}'.") },
        "user-property" => p with { UserProperties = [.. p.UserProperties ?? [], new MqttUserProperty(value, second!)] },
        _ => throw Unknown(command, id, "content-type, correlation-data, message-expiry-interval, payload-format-indicator, response-topic, user-property"
            + (command == "will" ? ", will-delay-interval" : "")),
    };

    private static MqttProperties ApplySubscribe(MqttProperties p, string id, string value, string? second) => id switch
    {
        // 1 to 268,435,455 (a variable byte integer; 0 is a protocol error).
        "subscription-identifier" => UInt("subscribe", id, value) is var n and >= 1 and <= 268_435_455
            ? p with { SubscriptionIdentifiers = [n] }
            : throw new ClientUsageException($"-D subscribe subscription-identifier must be between 1 and 268435455, not '{value}'."),
        "user-property" => p with { UserProperties = [.. p.UserProperties ?? [], new MqttUserProperty(value, second!)] },
        _ => throw Unknown("subscribe", id, "subscription-identifier, user-property"),
    };

    private static uint UInt(string command, string id, string value) =>
        uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new ClientUsageException($"-D {command} {id} needs a whole number of at most 4294967295, not '{value}'.");

    private static ushort UShort(string command, string id, string value) =>
        ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new ClientUsageException($"-D {command} {id} needs a whole number of at most 65535, not '{value}'.");

    private static ClientUsageException Unknown(string command, string id, string known) =>
        new($"-D {command}: unknown or unsupported property '{id}' (known: {known}).");
}

/// <summary>A flag or a combination of flags that cannot work; printed as one line, exit code 1.</summary>
internal sealed class ClientUsageException(string message) : Exception(message);
