using BenchmarkDotNet.Attributes;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>MqttTopic.Matches, the pure matcher (the broker's index is a trie; see PublishPathBenchmarks).</summary>
[MemoryDiagnoser]
public class TopicMatchBenchmarks
{
    private const string Topic = "factory/line-7/cell-3/sensor-42/temperature";

    [Benchmark(Baseline = true)]
    public bool Exact() => MqttTopic.Matches("factory/line-7/cell-3/sensor-42/temperature", Topic);

    [Benchmark]
    public bool SingleLevelWildcards() => MqttTopic.Matches("factory/+/+/sensor-42/+", Topic);

    [Benchmark]
    public bool MultiLevelWildcard() => MqttTopic.Matches("factory/line-7/#", Topic);

    [Benchmark]
    public bool MismatchEarly() => MqttTopic.Matches("office/#", Topic);
}
