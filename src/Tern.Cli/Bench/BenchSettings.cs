using System.Globalization;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>What a <c>tern bench pub|sub|pubsub</c> run does. Topic patterns: <c>%i</c> is the client's
/// index, <c>%j</c> the topic index (0..<see cref="Topics"/>-1) a publisher cycles through.</summary>
internal sealed record BenchSettings
{
    public required BenchTarget Target { get; init; }

    public int Publishers { get; init; }

    public int Subscribers { get; init; }

    public string PublishTopic { get; init; } = "bench/%i";

    public string SubscribeFilter { get; init; } = "bench/#";

    /// <summary>Topics each publisher cycles through (<c>%j</c> in <see cref="PublishTopic"/>).</summary>
    public int Topics { get; init; } = 1;

    /// <summary>Filters each subscriber subscribes to (<c>%j</c> in <see cref="SubscribeFilter"/>).</summary>
    public int SubscribeTopics { get; init; } = 1;

    /// <summary>pubsub: messages a second each subscriber takes (reads, acknowledges, counts); 0: as fast as it can.</summary>
    public double SubscriberRate { get; init; }

    /// <summary>pubsub: subscribes and unsubscribes a second, in all, by <see cref="ChurnClients"/> extra connections; 0: none.</summary>
    public double Churn { get; init; }

    public int ChurnClients { get; init; } = 20;

    /// <summary>pubsub: the longest drain after the window; null: 2 s, or a tenth of a window over 20 s (at most 10 s).</summary>
    public TimeSpan? Drain { get; init; }

    public MqttQoS PublishQoS { get; init; }

    public MqttQoS SubscribeQoS { get; init; }

    public int PayloadSize { get; init; } = 64;

    /// <summary>Messages per second over all publishers; 0 sends as fast as the broker takes them.</summary>
    public double Rate { get; init; }

    /// <summary>Messages per publisher; 0: until <see cref="Duration"/>.</summary>
    public long Messages { get; init; }

    /// <summary>How long to publish (or, for <c>sub</c>, to listen); null: until the count or Ctrl+C.</summary>
    public TimeSpan? Duration { get; init; }

    public int Inflight { get; init; } = 64;

    /// <summary>
    /// pubsub: messages that may be on their way to any one subscriber before its publishers pause (0: no
    /// limit); see <see cref="FlowControl"/>. The default is the default queue bound per client of Tern
    /// (Broker:MaxQueuedQoS0Messages, Broker:MaxQueuedMessages) and Mosquitto (max_queued_messages).
    /// </summary>
    public long MaxLag { get; init; } = DefaultMaxLag;

    public const long DefaultMaxLag = 1000;

    /// <summary>Written into every payload; pubsub's subscribers count only messages with it.</summary>
    public uint RunId { get; init; } = BenchWire.NewRunId();

    /// <summary>pubsub: latencies of messages sent this long after the start are not recorded.</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>New connections per second while setting up; 0 for no pacing.</summary>
    public double ConnectRate { get; init; }

    public string ClientPrefix { get; init; } = $"tern-bench-{Environment.ProcessId}";

    public static string Expand(string pattern, int index, int topic = 0) =>
        pattern.Replace("%i", index.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%j", topic.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
