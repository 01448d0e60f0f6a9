using Tern.Broker;
using Tern.Protocol;

namespace Tern.Broker.Tests.Routing;

[Collection(StressCollection.Name)]
public sealed class SubscriptionIndexTests
{
    private readonly MqttBroker _broker = new(new BrokerOptions());

    private MqttSession NewSession(string id) => new(id, _broker);

    private static Subscription Sub(MqttSession session, string filter, MqttQoS qos = MqttQoS.AtMostOnce)
        => Subscription.Create(session, filter, new SubscriptionOptions(qos), null);

    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/+", "a/b", true)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("#", "a/b", true)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/broker/uptime", "$SYS/broker/uptime", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/+/uptime", "$SYS/broker/uptime", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("a//b", "a//b", true)]
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("a/b", "a/c", false)]
    public void Match_follows_the_specification_table(string filter, string topic, bool matches)
    {
        var index = new SubscriptionIndex();
        var session = NewSession("c1");
        index.Add(Sub(session, filter));

        var targets = index.Match(topic).Targets;

        Assert.Equal(matches ? 1 : 0, targets.Length);
        Assert.Equal(MqttTopic.Matches(filter, topic), matches);
    }

    [Fact]
    public void Overlapping_subscriptions_of_one_session_collapse_to_the_highest_qos()
    {
        var index = new SubscriptionIndex();
        var session = NewSession("c1");
        index.Add(Sub(session, "a/+", MqttQoS.AtMostOnce));
        index.Add(Sub(session, "a/#", MqttQoS.ExactlyOnce));
        index.Add(Sub(session, "a/b", MqttQoS.AtLeastOnce));

        var target = Assert.Single(index.Match("a/b").Targets);

        Assert.Same(session, target.Session);
        Assert.Equal(MqttQoS.ExactlyOnce, target.QoS);
    }

    [Fact]
    public void Cached_match_is_invalidated_by_subscribe_and_unsubscribe()
    {
        var index = new SubscriptionIndex();
        var one = NewSession("one");
        var two = NewSession("two");
        index.Add(Sub(one, "x/#"));
        Assert.Single(index.Match("x/y").Targets);

        index.Add(Sub(two, "x/+"));
        Assert.Equal(2, index.Match("x/y").Targets.Length);

        Assert.True(index.Remove(one, "x/#"));
        var left = Assert.Single(index.Match("x/y").Targets);
        Assert.Same(two, left.Session);
        Assert.False(index.Remove(one, "x/#"));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void Shared_group_members_take_turns_and_leave_the_group()
    {
        var index = new SubscriptionIndex();
        var one = NewSession("one");
        var two = NewSession("two");
        index.Add(Sub(one, "$share/g/s/+"));
        index.Add(Sub(two, "$share/g/s/+"));

        var match = index.Match("s/1");
        Assert.Empty(match.Targets);
        var group = Assert.Single(match.Groups);
        var first = group.Pick(SharedSubscriptionStrategy.RoundRobin, null)!.Session;
        var second = group.Pick(SharedSubscriptionStrategy.RoundRobin, null)!.Session;
        Assert.NotSame(first, second);
        Assert.Same(two, group.Pick(SharedSubscriptionStrategy.RoundRobin, one)!.Session);

        Assert.True(index.Remove(one, "$share/g/s/+"));
        Assert.Same(two, Assert.Single(group.Members).Session);
        Assert.True(index.Remove(two, "$share/g/s/+"));
        Assert.Empty(index.Match("s/1").Groups);
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void A_level_with_many_filters_below_it_matches_each_of_them()
    {
        var index = new SubscriptionIndex();
        var sessions = Enumerable.Range(0, 40).Select(i => NewSession("s" + i)).ToArray();
        for (var i = 0; i < 40; i++)
        {
            index.Add(Sub(sessions[i], $"many/{i}/+"));
        }

        for (var i = 0; i < 40; i += 3)
        {
            Assert.True(index.Remove(sessions[i], $"many/{i}/+"));
        }

        for (var i = 0; i < 40; i++)
        {
            var targets = index.Match($"many/{i}/x").Targets;
            Assert.Equal(i % 3 == 0 ? 0 : 1, targets.Length);
        }

        Assert.Equal(26, index.Count);
    }

    [Fact]
    public void Resubscribing_replaces_the_options_and_counts_once()
    {
        var index = new SubscriptionIndex();
        var session = NewSession("c1");
        index.Add(Sub(session, "t", MqttQoS.AtMostOnce));
        index.Add(Sub(session, "t", MqttQoS.AtLeastOnce));

        Assert.Equal(1, index.Count);
        Assert.Equal(MqttQoS.AtLeastOnce, Assert.Single(index.Match("t").Targets).QoS);
    }

    [Fact]
    public async Task Concurrent_matching_while_subscribing_sees_every_finished_subscription()
    {
        var index = new SubscriptionIndex();
        var sessions = Enumerable.Range(0, 200).Select(i => NewSession("s" + i)).ToArray();
        using var done = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            var matches = 0L;
            while (!done.IsCancellationRequested)
            {
                matches += index.Match("load/topic").Targets.Length;
            }

            return matches;
        });

        foreach (var session in sessions)
        {
            index.Add(Sub(session, "load/+"));
        }

        done.Cancel();
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(sessions.Length, index.Match("load/topic").Targets.Length);
    }

    [Fact]
    public void A_changed_filter_drops_only_the_cached_topics_it_matches()
    {
        var index = new SubscriptionIndex();
        var one = NewSession("one");
        var two = NewSession("two");
        index.Add(Sub(one, "x/#"));
        string[] topics = ["x/1", "x/2/3", "y/1", "$SYS/load"];
        foreach (var topic in topics)
        {
            index.Match(topic);
        }

        Assert.All(topics, t => Assert.True(index.IsCached(t), t));

        index.Add(Sub(two, "y/+"));
        Assert.True(index.IsCached("x/1"));
        Assert.True(index.IsCached("x/2/3"));
        Assert.False(index.IsCached("y/1"));
        Assert.Same(two, Assert.Single(index.Match("y/1").Targets).Session);

        // A filter without wildcards is one topic.
        index.Add(Sub(two, "x/1"));
        Assert.False(index.IsCached("x/1"));
        Assert.True(index.IsCached("x/2/3"));
        Assert.Equal(2, index.Match("x/1").Targets.Length);

        // [MQTT-4.7.2-1] '#' does not match "$SYS/load", so its cached match stays.
        index.Add(Sub(two, "#"));
        Assert.False(index.IsCached("x/2/3"));
        Assert.True(index.IsCached("$SYS/load"));

        Assert.True(index.Remove(one, "x/#"));
        Assert.True(index.IsCached("$SYS/load"));
        Assert.Same(two, Assert.Single(index.Match("x/2/3").Targets).Session);
        Assert.Empty(index.Match("$SYS/load").Targets);
    }

    [Fact]
    public void Joining_an_existing_shared_group_keeps_the_cache_and_the_newcomer_gets_messages()
    {
        var index = new SubscriptionIndex();
        var one = NewSession("one");
        var two = NewSession("two");
        index.Add(Sub(one, "$share/g/s/+"));
        var group = Assert.Single(index.Match("s/1").Groups);

        index.Add(Sub(two, "$share/g/s/+"));

        Assert.True(index.IsCached("s/1"));
        Assert.Same(group, index.FindGroup("g", "s/+"));
        Assert.Same(two, group.Pick(SharedSubscriptionStrategy.RoundRobin, one)!.Session);
        Assert.Equal(2, index.Count);
    }

    [Fact]
    public void A_full_cache_replaces_entries_that_were_not_used_and_keeps_the_busy_ones()
    {
        var index = new SubscriptionIndex();
        index.Add(Sub(NewSession("c1"), "cold/+"));
        index.Add(Sub(NewSession("c2"), "hot"));
        var cold = Enumerable.Range(0, 3 * MatchCache.Capacity).Select(i => "cold/" + i).ToArray();

        foreach (var topic in cold)
        {
            index.Match(topic);
            Assert.Single(index.Match("hot").Targets);
        }

        Assert.True(index.IsCached("hot"));
        Assert.True(index.IsCached(cold[^1]));
        var cached = cold.Count(index.IsCached);
        Assert.InRange(cached, MatchCache.Capacity / 2, MatchCache.Capacity - 1);
    }

    [Fact]
    public void Matching_a_cached_topic_does_not_allocate()
    {
        var index = new SubscriptionIndex();
        var one = NewSession("one");
        var two = NewSession("two");
        index.Add(Sub(one, "a/+/c"));
        index.Add(Sub(two, "a/#"));
        index.Add(Sub(two, "$share/g/a/b/c"));
        index.Match("a/b/c");
        index.Match("a/x");

        var before = GC.GetAllocatedBytesForCurrentThread();
        var matched = 0;
        for (var i = 0; i < 100; i++)
        {
            matched += index.Match("a/b/c").Targets.Length + index.Match("a/x").Targets.Length;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(300, matched);
    }

    [Fact]
    public void A_topic_one_filter_holds_is_matched_without_allocating_a_result()
    {
        var index = new SubscriptionIndex();
        index.Add(Sub(NewSession("one"), "a/+"));
        index.Add(Sub(NewSession("two"), "a/+"));

        // Misses, each a different topic: the result is the node's own snapshot, shared.
        var first = index.Match("a/1");
        Assert.Same(first, index.Match("a/2"));
        Assert.Equal(2, first.Targets.Length);
    }

    [Theory]
    [InlineData(20240611)]
    [InlineData(7)]
    [InlineData(0)] // a new seed each run
    public async Task Concurrent_subscribes_unsubscribes_and_matches_agree_with_a_brute_force_model(int seed)
    {
        if (seed == 0)
        {
            seed = Random.Shared.Next(1, int.MaxValue);
        }

        var stress = new IndexStress(seed, NewSession);
        await stress.RunAsync();
    }
}

/// <summary>
/// Writers own their sessions, so each knows exactly what its sessions are subscribed to and checks
/// every Match it makes right after its own change; readers match random topics meanwhile (filling
/// the cache with results that may go stale) and check sessions no one changes. At the end every
/// topic is checked against the brute-force model (<see cref="MqttTopic.Matches"/>).
/// </summary>
internal sealed class IndexStress(int seed, Func<string, MqttSession> newSession)
{
    private const int Writers = 2;
    private const int Readers = 2;
    private const int SessionsPerWriter = 4;
    private const int OperationsPerWriter = 3_000;
    private static readonly string[] Levels = ["a", "b", "", "c"];

    private readonly SubscriptionIndex _index = new();
    private readonly List<string> _topics = [];
    private readonly List<string> _filters = [];
    private readonly Dictionary<MqttSession, Dictionary<string, MqttQoS>> _model = new(ReferenceEqualityComparer.Instance);
    private readonly List<MqttSession> _fixed = [];

    public async Task RunAsync()
    {
        var random = new Random(seed);
        for (var i = 0; i < 200; i++)
        {
            _topics.Add(RandomTopic(random));
            _filters.Add(RandomFilter(random));
        }

        _topics.AddRange(["$SYS/a", "$SYS/a/b", "a", "/", "a/", "/a"]);
        _filters.AddRange(["#", "+", "+/#", "$SYS/#", "$SYS/+", "a/#", "/+", "+/+", "$share/g/a/#", "$share/g/+/+", "$share/h/#"]);

        for (var i = 0; i < 3; i++)
        {
            var session = newSession("fixed" + i);
            _fixed.Add(session);
            _model[session] = [];
            for (var k = 0; k < 5; k++)
            {
                Subscribe(session, _filters[random.Next(_filters.Count)], (MqttQoS)random.Next(3));
            }
        }

        var writerSessions = new MqttSession[Writers][];
        for (var w = 0; w < Writers; w++)
        {
            writerSessions[w] = new MqttSession[SessionsPerWriter];
            for (var s = 0; s < SessionsPerWriter; s++)
            {
                writerSessions[w][s] = newSession($"w{w}s{s}");
                _model[writerSessions[w][s]] = [];
            }
        }

        using var done = new CancellationTokenSource();
        var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(() => Read(new Random(seed + 100 + r), done.Token))).ToArray();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => Write(new Random(seed + 1 + w), writerSessions[w]))).ToArray();
        try
        {
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(120));
        }
        finally
        {
            done.Cancel();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));
        }

        var expectedCount = _model.Values.Sum(filters => filters.Count);
        if (expectedCount != _index.Count)
        {
            Assert.Fail($"seed {seed}: Count {_index.Count}, model {expectedCount}");
        }

        foreach (var topic in _topics)
        {
            Check(topic, _model.Keys, $"after the run, topic '{topic}'");
        }
    }

    private void Write(Random random, MqttSession[] sessions)
    {
        for (var op = 0; op < OperationsPerWriter; op++)
        {
            var session = sessions[random.Next(sessions.Length)];
            var filter = _filters[random.Next(_filters.Count)];
            var owned = _model[session];
            string what;
            if (owned.ContainsKey(filter))
            {
                owned.Remove(filter);
                if (!_index.Remove(session, filter))
                {
                    Assert.Fail($"seed {seed}: Remove {session.ClientId} '{filter}' returned false");
                }

                what = "unsubscribe";
            }
            else
            {
                Subscribe(session, filter, (MqttQoS)random.Next(3));
                what = "subscribe";
            }

            // A topic the filter matches when there is one nearby, else any.
            var topic = _topics[random.Next(_topics.Count)];
            for (var tries = 0; tries < 20 && !MqttTopic.Matches(Inner(filter), topic); tries++)
            {
                topic = _topics[random.Next(_topics.Count)];
            }

            Check(topic, sessions, $"after {what} {session.ClientId} '{filter}', topic '{topic}'");
        }
    }

    private void Read(Random random, CancellationToken done)
    {
        var unique = 0;
        for (var n = 0; !done.IsCancellationRequested; n++)
        {
            // Some one-off topics, so the cache also replaces entries while filters change.
            var topic = random.Next(8) == 0 ? $"a/x{seed}-{unique++}" : _topics[random.Next(_topics.Count)];
            var match = _index.Match(topic);
            if (n % 8 != 0)
            {
                continue; // mostly here to fill the cache while the writers change filters
            }

            var sessions = match.Targets.Select(t => t.Session).ToList();
            if (sessions.Distinct().Count() != sessions.Count)
            {
                Assert.Fail($"seed {seed}: topic '{topic}' has a session twice");
            }

            Check(topic, _fixed, $"reader, topic '{topic}'", match);
        }
    }

    private void Subscribe(MqttSession session, string filter, MqttQoS qos)
    {
        _model[session][filter] = qos;
        _index.Add(Subscription.Create(session, filter, new SubscriptionOptions(qos), null));
    }

    /// <summary>What Match returns for <paramref name="sessions"/> is what their model says.</summary>
    private void Check(string topic, IEnumerable<MqttSession> sessions, string when, MatchResult? match = null)
    {
        match ??= _index.Match(topic);
        foreach (var session in sessions)
        {
            MqttQoS? expected = null;
            var groups = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var (filter, qos) in _model[session])
            {
                if (!MqttTopic.Matches(Inner(filter), topic))
                {
                    continue;
                }

                if (MqttTopic.TryParseSharedSubscription(filter, out var group, out var inner))
                {
                    groups.Add(group + " " + inner);
                }
                else if (expected is null || qos > expected)
                {
                    expected = qos;
                }
            }

            MqttQoS? actual = null;
            foreach (var target in match.Targets)
            {
                if (ReferenceEquals(target.Session, session))
                {
                    actual = target.QoS;
                }
            }

            var actualGroups = new SortedSet<string>(
                match.Groups.Where(g => g.Members.Any(m => ReferenceEquals(m.Session, session))).Select(g => g.Name + " " + g.Filter),
                StringComparer.Ordinal);
            if (expected != actual)
            {
                Assert.Fail($"seed {seed}: {when}: {session.ClientId} expected QoS {expected?.ToString() ?? "none"}, got {actual?.ToString() ?? "none"}");
            }

            if (!groups.SetEquals(actualGroups))
            {
                Assert.Fail($"seed {seed}: {when}: {session.ClientId} expected groups [{string.Join(", ", groups)}], got [{string.Join(", ", actualGroups)}]");
            }
        }
    }

    private static string Inner(string filter) => MqttTopic.TryParseSharedSubscription(filter, out _, out var inner) ? inner : filter;

    private static string RandomTopic(Random random)
    {
        var levels = Enumerable.Range(0, random.Next(1, 5)).Select(_ => Levels[random.Next(Levels.Length)]).ToList();
        if (random.Next(10) == 0)
        {
            levels[0] = "$SYS";
        }

        var topic = string.Join('/', levels);
        return topic.Length == 0 ? "b" : topic;
    }

    private static string RandomFilter(Random random)
    {
        var levels = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(4) == 0 ? "+" : Levels[random.Next(Levels.Length)]).ToList();
        if (random.Next(4) == 0)
        {
            levels.Add("#");
        }

        if (random.Next(10) == 0)
        {
            levels[0] = "$SYS";
        }

        var filter = string.Join('/', levels);
        filter = filter.Length == 0 ? "a" : filter;
        return random.Next(8) == 0 ? "$share/g" + random.Next(2) + "/" + filter : filter;
    }
}
