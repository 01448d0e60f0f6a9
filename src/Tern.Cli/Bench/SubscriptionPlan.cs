using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// Who subscribes to what, and in <c>pubsub</c> who should get each published topic. Subscriber i
/// subscribes to the filter with <c>%i</c> = i and <c>%j</c> = 0..<see cref="BenchSettings.SubscribeTopics"/>-1.
/// A subscriber counts once per message however many of its filters match it (MQTT 3.1.1 delivers
/// a message once per client, at the highest matching QoS).
/// </summary>
internal sealed class SubscriptionPlan
{
    private SubscriptionPlan(string[][] filters) => Filters = filters;

    /// <summary>Each subscriber's filters.</summary>
    public string[][] Filters { get; }

    /// <summary>Per publisher and topic (template), the subscribers that should get it.</summary>
    public int[][] Fanout { get; private set; } = [];

    /// <summary>The most publishers any one subscriber hears from (they share its <see cref="BenchSettings.MaxLag"/>).</summary>
    public int Sharing { get; private set; } = 1;

    /// <summary>With streams kept: per payload stream (publisher × topics + topic), the subscribers that should get it.</summary>
    public int[][]? StreamSubscribers { get; private set; }

    public static SubscriptionPlan ForSubscribers(BenchSettings s)
    {
        var filters = new string[s.Subscribers][];
        for (var i = 0; i < filters.Length; i++)
        {
            filters[i] = new string[s.SubscribeTopics];
            for (var j = 0; j < filters[i].Length; j++)
            {
                filters[i][j] = BenchSettings.Expand(s.SubscribeFilter, i, j);
            }
        }

        return new SubscriptionPlan(filters);
    }

    /// <summary>Matches every published topic against the filters.</summary>
    /// <param name="keepStreams">Also keep <see cref="StreamSubscribers"/>.</param>
    public static SubscriptionPlan ForPubSub(BenchSettings s, bool keepStreams)
    {
        var plan = ForSubscribers(s);
        plan.Match(s, keepStreams);
        return plan;
    }

    private void Match(BenchSettings s, bool keepStreams)
    {
        // Exact filters by topic; only the wildcard filters are matched one by one.
        var exact = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var wildcards = new List<(string Filter, int Subscriber)>();
        for (var i = 0; i < Filters.Length; i++)
        {
            foreach (string filter in Filters[i])
            {
                if (filter.AsSpan().IndexOfAny('+', '#') >= 0)
                {
                    wildcards.Add((filter, i));
                }
                else if (exact.TryGetValue(filter, out var list))
                {
                    list.Add(i);
                }
                else
                {
                    exact[filter] = [i];
                }
            }
        }

        var seen = new int[Filters.Length];
        Array.Fill(seen, -1);
        var senders = new int[Filters.Length];
        var lastSender = new int[Filters.Length];
        Array.Fill(lastSender, -1);
        var matched = new List<int>();
        Fanout = new int[s.Publishers][];
        StreamSubscribers = keepStreams ? new int[s.Publishers * s.Topics][] : null;
        for (var p = 0; p < Fanout.Length; p++)
        {
            Fanout[p] = new int[s.Topics];
            for (var j = 0; j < s.Topics; j++)
            {
                int stream = (p * s.Topics) + j;
                string topic = BenchSettings.Expand(s.PublishTopic, p, j);
                matched.Clear();
                foreach (int i in exact.GetValueOrDefault(topic) ?? [])
                {
                    Add(i);
                }

                foreach (var (filter, i) in wildcards)
                {
                    if (seen[i] != stream && MqttTopic.Matches(filter, topic))
                    {
                        Add(i);
                    }
                }

                Fanout[p][j] = matched.Count;
                StreamSubscribers?[stream] = [.. matched];

                void Add(int i)
                {
                    if (seen[i] == stream)
                    {
                        return;
                    }

                    seen[i] = stream;
                    matched.Add(i);
                    senders[i] += lastSender[i] == p ? 0 : 1;
                    lastSender[i] = p;
                }
            }
        }

        Sharing = Math.Max(1, senders.DefaultIfEmpty(0).Max());
    }
}
