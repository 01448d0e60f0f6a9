using Tern.Broker;
using Tern.Broker.Tests.Routing;
using Tern.Protocol;

namespace Tern.Broker.Tests.Retain;

/// <summary>RetainedStore on its own: which retained messages a filter finds, the limit, threads.</summary>
[Collection(StressCollection.Name)]
public sealed class RetainedStoreTests
{
    private static readonly string[] Topics =
    [
        "a", "a/b", "a/b/c", "a/c", "a/", "a//b", "/", "/finance", "b",
        "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
        "$SYS/broker/uptime", "$SYS/broker/load/1min", "$SYS", "$other/x",
    ];

    private static ApplicationMessage Message(string topic, string payload = "p")
        => new(topic, System.Text.Encoding.UTF8.GetBytes(payload), MqttQoS.AtMostOnce, true, null, null, 0);

    private static RetainedStore StoreWithAllTopics()
    {
        var store = new RetainedStore(1000);
        foreach (var topic in Topics)
        {
            Assert.True(store.Set(Message(topic)));
        }

        return store;
    }

    private static string[] Sorted(IEnumerable<string> topics) => [.. topics.Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData("#", "/,/finance,a,a/,a//b,a/b,a/b/c,a/c,b,sport/tennis/player1,sport/tennis/player1/ranking,sport/tennis/player1/score/wimbledon")]
    [InlineData("a/#", "a,a/,a//b,a/b,a/b/c,a/c")]
    [InlineData("a/+", "a/,a/b,a/c")]
    [InlineData("a/+/+", "a//b,a/b/c")]
    [InlineData("a/+/b", "a//b")]
    [InlineData("a//b", "a//b")]
    [InlineData("+", "a,b")]
    [InlineData("+/+", "/,/finance,a/,a/b,a/c")]
    [InlineData("/+", "/,/finance")]
    [InlineData("+/#", "/,/finance,a,a/,a//b,a/b,a/b/c,a/c,b,sport/tennis/player1,sport/tennis/player1/ranking,sport/tennis/player1/score/wimbledon")]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1,sport/tennis/player1/ranking,sport/tennis/player1/score/wimbledon")]
    [InlineData("sport/+/player1", "sport/tennis/player1")]
    [InlineData("+/tennis/#", "sport/tennis/player1,sport/tennis/player1/ranking,sport/tennis/player1/score/wimbledon")]
    [InlineData("$SYS/#", "$SYS,$SYS/broker/load/1min,$SYS/broker/uptime")]
    [InlineData("$SYS/broker/+", "$SYS/broker/uptime")]
    [InlineData("$SYS/+/load/#", "$SYS/broker/load/1min")]
    [InlineData("+/broker/uptime", "")]
    [InlineData("+/x", "")]
    [InlineData("$other/+", "$other/x")]
    [InlineData("a/b/c/#", "a/b/c")]
    [InlineData("c/#", "")]
    [InlineData("a/b", "a/b")]
    [InlineData("a/d", "")]
    public void Wildcards_match_as_the_specification_says(string filter, string expected)
    {
        var store = StoreWithAllTopics();

        var found = Sorted(store.Match(filter).Select(m => m.Topic));

        Assert.Equal(expected.Length == 0 ? [] : expected.Split(','), found);
        Assert.Equal(Sorted(Topics.Where(t => MqttTopic.Matches(filter, t))), found);
    }

    [Fact]
    public void A_new_message_replaces_the_old_and_an_empty_one_deletes_it()
    {
        var store = StoreWithAllTopics();

        Assert.True(store.Set(Message("a/b", "new")));
        Assert.Equal("new", System.Text.Encoding.UTF8.GetString(Assert.Single(store.Match("a/b")).Payload.Span));
        Assert.Equal(Topics.Length, store.Count);

        Assert.True(store.Set(Message("a/b", "")));
        Assert.Empty(store.Match("a/b"));
        Assert.DoesNotContain("a/b", store.Match("a/#").Select(m => m.Topic));
        Assert.Contains("a/b/c", store.Match("a/#").Select(m => m.Topic));
        Assert.Equal(Topics.Length - 1, store.Count);

        // Deleting the leaf removes its empty branch; setting it again brings it back.
        Assert.True(store.Set(Message("a/b/c", "")));
        Assert.True(store.Set(Message("x/y/z", "")));
        Assert.Empty(store.Match("a/b/#"));
        Assert.True(store.Set(Message("a/b/c", "again")));
        Assert.Equal("a/b/c", Assert.Single(store.Match("a/+/c")).Topic);
        Assert.Equal(Topics.Length - 1, store.Count);
    }

    [Fact]
    public void A_full_store_refuses_new_topics_but_replaces_and_deletes()
    {
        var store = new RetainedStore(2);
        Assert.True(store.Set(Message("t/1")));
        Assert.True(store.Set(Message("t/2")));

        Assert.False(store.Set(Message("t/3")));
        Assert.Empty(store.Match("t/3"));
        Assert.Equal(2, store.Match("t/+").Count);
        Assert.True(store.Set(Message("t/1", "replaced")));
        Assert.Equal(2, store.Count);

        Assert.True(store.Set(Message("t/1", "")));
        Assert.True(store.Set(Message("t/3")));
        Assert.Equal(["t/2", "t/3"], Sorted(store.Match("t/#").Select(m => m.Topic)));
        Assert.False(new RetainedStore(0).Set(Message("t")));
    }

    [Fact]
    public void A_level_with_many_topics_below_it_finds_each_of_them()
    {
        var store = new RetainedStore(1000);
        for (var i = 0; i < 40; i++)
        {
            Assert.True(store.Set(Message($"many/{i}/x")));
        }

        for (var i = 0; i < 40; i += 3)
        {
            Assert.True(store.Set(Message($"many/{i}/x", "")));
        }

        var left = Enumerable.Range(0, 40).Where(i => i % 3 != 0).Select(i => $"many/{i}/x").ToArray();
        Assert.Equal(Sorted(left), Sorted(store.Match("many/+/x").Select(m => m.Topic)));
        Assert.Equal(Sorted(left), Sorted(store.Match("many/#").Select(m => m.Topic)));
        Assert.Empty(store.Match("many/3/x"));
        Assert.Single(store.Match("many/4/x"));
    }

    [Theory]
    [InlineData(424242)]
    [InlineData(0)] // a new seed each run
    public async Task Concurrent_sets_deletes_and_matches_agree_with_a_brute_force_model(int seed)
    {
        if (seed == 0)
        {
            seed = Random.Shared.Next(1, int.MaxValue);
        }

        const int Threads = 3;
        const int Limit = 150;
        string[] levels = ["a", "b", "", "$SYS"];
        var setup = new Random(seed);
        var topics = Enumerable.Range(0, 400)
            .Select(_ => string.Join('/', Enumerable.Range(0, setup.Next(1, 5)).Select(i => levels[setup.Next(i == 0 ? 4 : 3)])))
            .Where(t => t.Length > 0)
            .Distinct()
            .ToArray();
        string[] filters = ["#", "+", "+/+", "a/#", "+/a/#", "$SYS/#", "$SYS/+", "/#", "a/+/b", "+/+/+/+", "b//+"];
        var store = new RetainedStore(Limit);
        // Each thread owns the topics i % Threads == t, so it knows what they hold.
        var models = Enumerable.Range(0, Threads).Select(_ => new Dictionary<string, ApplicationMessage>()).ToArray();

        void Run(int thread)
        {
            var random = new Random(seed + thread + 1);
            var owned = topics.Where((_, i) => i % Threads == thread).ToArray();
            var model = models[thread];
            for (var op = 0; op < 5_000; op++)
            {
                var topic = owned[random.Next(owned.Length)];
                var delete = random.Next(3) == 0;
                var message = Message(topic, delete ? "" : $"{thread}-{op}");
                var stored = store.Set(message);
                if (delete)
                {
                    model.Remove(topic);
                }
                else if (stored)
                {
                    model[topic] = message;
                }
                else
                {
                    Assert.False(model.ContainsKey(topic), $"seed {seed}: Set refused '{topic}', which had a message");
                }

                var expected = model.GetValueOrDefault(topic);
                if (!ReferenceEquals(expected, store.Match(topic).SingleOrDefault()))
                {
                    Assert.Fail($"seed {seed}: exact '{topic}' after op {op}");
                }

                var filter = filters[random.Next(filters.Length)];
                var found = store.Match(filter);
                if (found.Select(m => m.Topic).Distinct().Count() != found.Count)
                {
                    Assert.Fail($"seed {seed}: '{filter}' found a topic twice");
                }

                if (!found.All(m => MqttTopic.Matches(filter, m.Topic)))
                {
                    Assert.Fail($"seed {seed}: '{filter}' found a topic it does not match");
                }

                var mine = found.Where(m => model.TryGetValue(m.Topic, out var own) && ReferenceEquals(own, m)).Count();
                var expectedMine = model.Keys.Count(t => MqttTopic.Matches(filter, t));
                if (mine != expectedMine)
                {
                    Assert.Fail($"seed {seed}: '{filter}' found {mine} of this thread's {expectedMine} after op {op}");
                }

                if (store.Count > Limit)
                {
                    Assert.Fail($"seed {seed}: {store.Count} retained, limit {Limit}");
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() => Run(t)))).WaitAsync(TimeSpan.FromSeconds(120));

        var all = models.SelectMany(m => m).ToDictionary();
        if (all.Count != store.Count)
        {
            Assert.Fail($"seed {seed}: Count {store.Count}, model {all.Count}");
        }

        foreach (var filter in filters.Concat(topics))
        {
            var expected = Sorted(all.Keys.Where(t => MqttTopic.Matches(filter, t)));
            var found = store.Match(filter);
            if (!expected.SequenceEqual(Sorted(found.Select(m => m.Topic))))
            {
                Assert.Fail($"seed {seed}: '{filter}' after the run");
            }

            Assert.All(found, m => Assert.Same(all[m.Topic], m));
        }
    }
}
