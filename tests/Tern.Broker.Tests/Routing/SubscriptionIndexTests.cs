using Tern.Broker;
using Tern.Protocol;

namespace Tern.Broker.Tests.Routing;

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
}
