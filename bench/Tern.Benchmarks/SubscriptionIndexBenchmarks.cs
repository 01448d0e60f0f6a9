using System.Globalization;
using BenchmarkDotNet.Attributes;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>
/// SubscriptionIndex on its own: 10,000 filters (<c>site/{i}/+/temp</c>) of 1,000 sessions and one
/// <c>site/+/alarm/#</c>, the match cache filled by 100,000 distinct topics. One operation = one
/// Match, or one SUBSCRIBE or UNSUBSCRIBE.
/// </summary>
[MemoryDiagnoser]
public class SubscriptionIndexBenchmarks
{
    private const int DistinctTopics = 100_000;
    private const int HotTopics = 1_000;
    private readonly MqttBroker _broker = new(new BrokerOptions());
    private SubscriptionIndex _index = null!;
    private string[] _topics = [];
    private Subscription[] _exact = [];
    private Subscription[] _wildcard = [];
    private int _next;
    private Thread? _churn;
    private volatile bool _stop;

    [GlobalSetup]
    public void Setup()
    {
        _index = new SubscriptionIndex();
        var sessions = new MqttSession[1_000];
        for (var s = 0; s < sessions.Length; s++)
        {
            sessions[s] = new MqttSession(string.Create(CultureInfo.InvariantCulture, $"s{s}"), _broker);
        }

        for (var i = 0; i < 10_000; i++)
        {
            _index.Add(Subscription.Create(sessions[i % sessions.Length], string.Create(CultureInfo.InvariantCulture, $"site/{i}/+/temp"), new SubscriptionOptions(MqttQoS.AtMostOnce), null));
        }

        _index.Add(Subscription.Create(sessions[0], "site/+/alarm/#", new SubscriptionOptions(MqttQoS.AtLeastOnce), null));
        _topics = new string[DistinctTopics];
        for (var k = 0; k < _topics.Length; k++)
        {
            _topics[k] = string.Create(CultureInfo.InvariantCulture, $"site/{k % 10_000}/dev-{k}/temp");
        }

        foreach (var topic in _topics)
        {
            _index.Match(topic);
        }

        for (var k = 0; k < HotTopics; k++)
        {
            _index.Match(_topics[k]);
        }

        var other = new MqttSession("other", _broker);
        _exact = new Subscription[64];
        _wildcard = new Subscription[64];
        for (var i = 0; i < _exact.Length; i++)
        {
            _exact[i] = Subscription.Create(other, string.Create(CultureInfo.InvariantCulture, $"other/{i}/cmd"), new SubscriptionOptions(MqttQoS.AtMostOnce), null);
            _wildcard[i] = Subscription.Create(other, string.Create(CultureInfo.InvariantCulture, $"site/{i}/+/cmd"), new SubscriptionOptions(MqttQoS.AtMostOnce), null);
        }
    }

    /// <summary>Other clients subscribe and unsubscribe all the time (filters no topic here matches).</summary>
    [GlobalSetup(Targets = [nameof(HotTopicsWithConcurrentChurn), nameof(DistinctTopicsWithConcurrentChurn)])]
    public void SetupChurn()
    {
        Setup();
        _stop = false;
        var churner = new MqttSession("churner", _broker);
        _churn = new Thread(() =>
        {
            var n = 0;
            while (!_stop)
            {
                var filter = (n & 1) == 0
                    ? string.Create(CultureInfo.InvariantCulture, $"churn/{n & 1023}/cmd")
                    : string.Create(CultureInfo.InvariantCulture, $"churn/{n & 1023}/+");
                _index.Add(Subscription.Create(churner, filter, new SubscriptionOptions(MqttQoS.AtMostOnce), null));
                _index.Remove(churner, filter);
                n++;
            }
        })
        { IsBackground = true, Name = "churn" };
        _churn.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _churn?.Join();
        _churn = null;
    }

    /// <summary>One topic over and over: the cached path.</summary>
    [Benchmark(OperationsPerInvoke = HotTopics)]
    public int HotTopic()
    {
        var n = 0;
        var topic = _topics[0];
        for (var k = 0; k < HotTopics; k++)
        {
            n += _index.Match(topic).Targets.Length;
        }

        return n;
    }

    /// <summary>1,000 topics in turn (they fit any cache).</summary>
    [Benchmark(OperationsPerInvoke = HotTopics)]
    public int HotTopics1000() => MatchRange(HotTopics);

    /// <summary>100,000 distinct topics in turn: more than a cache holds.</summary>
    [Benchmark(OperationsPerInvoke = DistinctTopics)]
    public int DistinctTopics100000() => MatchRange(DistinctTopics);

    /// <summary>1,000 topics in turn, and a SUBSCRIBE or UNSUBSCRIBE of a filter none of them matches every 100.</summary>
    [Benchmark(OperationsPerInvoke = HotTopics)]
    public int HotTopicsWithSubscribeChurn()
    {
        var n = 0;
        for (var k = 0; k < HotTopics; k++)
        {
            n += _index.Match(_topics[k]).Targets.Length;
            if (k % 100 == 0)
            {
                var subscription = (k & 1) == 0 ? _exact[_next++ & 63] : _wildcard[_next++ & 63];
                if (!_index.Remove(subscription.Session, subscription.Filter))
                {
                    _index.Add(subscription);
                }
            }
        }

        return n;
    }

    /// <summary>SUBSCRIBE then UNSUBSCRIBE of a filter without wildcards.</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public bool SubscribeUnsubscribeExact()
    {
        var subscription = _exact[_next++ & 63];
        _index.Add(subscription);
        return _index.Remove(subscription.Session, subscription.Filter);
    }

    /// <summary>SUBSCRIBE then UNSUBSCRIBE of a filter with a wildcard (<c>site/{i}/+/cmd</c>).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public bool SubscribeUnsubscribeWildcard()
    {
        var subscription = _wildcard[_next++ & 63];
        _index.Add(subscription);
        return _index.Remove(subscription.Session, subscription.Filter);
    }

    /// <summary>1,000 topics in turn while another thread subscribes and unsubscribes unrelated filters.</summary>
    [Benchmark(OperationsPerInvoke = HotTopics)]
    public int HotTopicsWithConcurrentChurn() => MatchRange(HotTopics);

    /// <summary>100,000 distinct topics in turn while another thread subscribes and unsubscribes.</summary>
    [Benchmark(OperationsPerInvoke = DistinctTopics)]
    public int DistinctTopicsWithConcurrentChurn() => MatchRange(DistinctTopics);

    private int MatchRange(int count)
    {
        var n = 0;
        for (var k = 0; k < count; k++)
        {
            n += _index.Match(_topics[k]).Targets.Length;
        }

        return n;
    }
}
