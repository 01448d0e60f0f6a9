using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Server.Persistence;

/// <summary>What <c>tern data</c> does the same on any engine: the checks of every reference and every value the broker decodes at start, and a state as one batch.</summary>
internal static class StoreStateCheck
{
    private const int Examples = 3;

    /// <summary>Everything in <paramref name="state"/> as one batch of inserts (an import), with its time.</summary>
    public static StoreBatch ToBatch(StoredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var batch = new StoreBatch { WrittenUnixMs = state.LastWrittenUnixMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        batch.Sessions.AddRange(state.Sessions);
        batch.Subscriptions.AddRange(state.Subscriptions);
        batch.MessagesInserted.AddRange(state.Messages);
        batch.Deliveries.AddRange(state.Deliveries);
        batch.IncomingQoS2.AddRange(state.IncomingQoS2);
        batch.Retained.AddRange(state.Retained);
        batch.Bans.AddRange(state.Bans);
        return batch;
    }

    /// <summary>Rows of each kind in <paramref name="state"/>.</summary>
    public static StoreCounts Count(StoredState state)
    {
        long payload = 0;
        foreach (var m in state.Messages)
        {
            payload += m.Payload.Length;
        }

        return new StoreCounts(state.Sessions.Count, state.Subscriptions.Count, state.Deliveries.Count, state.IncomingQoS2.Count, state.Messages.Count, payload, state.Retained.Count);
    }

    /// <summary>What refers to something missing, and messages nothing refers to.</summary>
    public static void References(StoredState state, List<string> problems)
    {
        var messages = state.Messages.Select(m => m.Id).ToHashSet();
        var sessions = state.Sessions.Select(s => s.ClientId).ToHashSet(StringComparer.Ordinal);
        var referenced = new HashSet<long>();
        var found = new Findings();
        foreach (var d in state.Deliveries)
        {
            referenced.Add(d.MessageId);
            if (!messages.Contains(d.MessageId))
            {
                found.Add("deliveries whose message is missing", $"client '{d.ClientId}' #{d.Sequence} -> message {d.MessageId}");
            }
        }

        foreach (var (topic, id) in state.Retained)
        {
            referenced.Add(id);
            if (!messages.Contains(id))
            {
                found.Add("retained entries whose message is missing", $"topic '{topic}' -> message {id}");
            }
        }

        foreach (var s in state.Subscriptions.Where(s => !sessions.Contains(s.ClientId)))
        {
            found.Add("subscriptions of a missing session", $"client '{s.ClientId}' '{s.Filter}'");
        }

        foreach (var d in state.Deliveries.Where(d => !sessions.Contains(d.ClientId)))
        {
            found.Add("deliveries of a missing session", $"client '{d.ClientId}' #{d.Sequence}");
        }

        foreach (var (clientId, packetId) in state.IncomingQoS2.Where(i => !sessions.Contains(i.ClientId)))
        {
            found.Add("incoming QoS 2 ids of a missing session", $"client '{clientId}' packet id {packetId}");
        }

        foreach (var m in state.Messages.Where(m => !referenced.Contains(m.Id)))
        {
            found.Add("messages nothing refers to", $"id {m.Id}");
        }

        found.AddTo(problems);
    }

    /// <summary>Values out of range, and MQTT 5 properties that cannot be decoded.</summary>
    public static void Values(StoredState state, List<string> problems)
    {
        var found = new Findings();
        foreach (var m in state.Messages)
        {
            if (m.QoS > MqttQoS.ExactlyOnce)
            {
                found.Add("messages with an invalid QoS", $"id {m.Id}");
            }

            if (!CanDecode(m.Properties))
            {
                found.Add("messages whose MQTT 5 properties cannot be decoded", $"id {m.Id}");
            }
        }

        foreach (var s in state.Sessions)
        {
            if (s.Will is { } will && (will.QoS > MqttQoS.ExactlyOnce || !CanDecode(will.Properties)))
            {
                found.Add("sessions whose will is invalid (QoS or properties)", $"client '{s.ClientId}'");
            }
        }

        foreach (var s in state.Subscriptions)
        {
            if (s.Options.QoS > MqttQoS.ExactlyOnce || s.Options.RetainHandling > 2)
            {
                found.Add("subscriptions with an invalid QoS or retain handling", $"client '{s.ClientId}' '{s.Filter}'");
            }
        }

        foreach (var d in state.Deliveries)
        {
            if (d.QoS > MqttQoS.ExactlyOnce)
            {
                found.Add("deliveries with an invalid QoS", $"client '{d.ClientId}' #{d.Sequence}");
            }
        }

        found.AddTo(problems);
    }

    /// <summary>One problem line: what, how many, and the first few.</summary>
    public static string Describe(string what, int count, List<string> examples)
        => $"{what}: {count} ({string.Join(", ", examples)}{(count > examples.Count ? ", ..." : "")})";

    private static bool CanDecode(byte[]? properties)
    {
        try
        {
            MqttPropertiesCodec.Decode(properties);
            return true;
        }
        catch (MqttProtocolException)
        {
            return false;
        }
    }

    /// <summary>Problem kind -> the rows that have it, in order of discovery.</summary>
    private sealed class Findings
    {
        private readonly Dictionary<string, (int Count, List<string> Examples)> _found = new(StringComparer.Ordinal);

        public void Add(string what, string row)
        {
            var (count, examples) = _found.TryGetValue(what, out var seen) ? seen : (0, []);
            if (examples.Count < Examples)
            {
                examples.Add(row);
            }

            _found[what] = (count + 1, examples);
        }

        public void AddTo(List<string> problems)
        {
            foreach (var (what, (count, examples)) in _found)
            {
                problems.Add(Describe(what, count, examples));
            }
        }
    }
}
