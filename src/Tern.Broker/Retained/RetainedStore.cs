using System.Collections.Concurrent;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Retained messages by topic. A wildcard SUBSCRIBE scans the store; an exact filter is one lookup.
/// </summary>
internal sealed class RetainedStore
{
    private readonly ConcurrentDictionary<string, ApplicationMessage> _messages = new(StringComparer.Ordinal);
    private readonly int _limit;

    public RetainedStore(int limit) => _limit = limit;

    public int Count => _messages.Count;

    /// <summary>Stores, replaces or (empty payload) deletes the retained message of its topic [MQTT-3.3.1-10].</summary>
    /// <returns>false when the store is full and the topic was new.</returns>
    public bool Set(ApplicationMessage message)
    {
        if (message.Payload.IsEmpty)
        {
            _messages.TryRemove(message.Topic, out _);
            return true;
        }

        if (_messages.Count >= _limit && !_messages.ContainsKey(message.Topic))
        {
            return false;
        }

        _messages[message.Topic] = message;
        return true;
    }

    /// <summary>Retained messages whose topic matches <paramref name="filter"/>.</summary>
    public List<ApplicationMessage> Match(string filter)
    {
        var result = new List<ApplicationMessage>();
        if (!MqttTopic.HasWildcards(filter))
        {
            if (_messages.TryGetValue(filter, out var exact))
            {
                result.Add(exact);
            }

            return result;
        }

        foreach (var (topic, message) in _messages)
        {
            if (MqttTopic.Matches(filter, topic))
            {
                result.Add(message);
            }
        }

        return result;
    }
}
