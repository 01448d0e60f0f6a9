using System.Globalization;
using BenchmarkDotNet.Attributes;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>
/// RetainedStore with 100,000 retained topics <c>site/{k % 1000}/dev-{k}/temp</c>: what a SUBSCRIBE
/// costs to find its retained messages, and a retained PUBLISH that replaces one.
/// </summary>
[MemoryDiagnoser]
public class RetainedStoreBenchmarks
{
    private const int Topics = 100_000;
    private RetainedStore _store = null!;
    private ApplicationMessage[] _messages = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _store = new RetainedStore(Topics + 10);
        _messages = new ApplicationMessage[Topics];
        var payload = new byte[16];
        for (var k = 0; k < Topics; k++)
        {
            var topic = string.Create(CultureInfo.InvariantCulture, $"site/{k % 1000}/dev-{k}/temp");
            _messages[k] = new ApplicationMessage(topic, payload, MqttQoS.AtMostOnce, true, null, null, 0);
            _store.Set(_messages[k]);
        }
    }

    /// <summary>An exact filter: one retained message.</summary>
    [Benchmark(Baseline = true)]
    public int ExactFilter() => _store.Match("site/7/dev-1007/temp").Count;

    /// <summary><c>site/7/+/temp</c>: 100 of the 100,000.</summary>
    [Benchmark]
    public int SingleLevelWildcard() => _store.Match("site/7/+/temp").Count;

    /// <summary><c>site/7/#</c>: 100 of the 100,000.</summary>
    [Benchmark]
    public int MultiLevelWildcard() => _store.Match("site/7/#").Count;

    /// <summary><c>+/+/dev-5/#</c>: one of the 100,000, under a leading wildcard.</summary>
    [Benchmark]
    public int LeadingWildcards() => _store.Match("+/+/dev-5/#").Count;

    /// <summary>A retained PUBLISH to a topic that already has a retained message.</summary>
    [Benchmark]
    public bool Replace() => _store.Set(_messages[_next++ % Topics]);
}
