using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Shared subscriptions <c>$share/{group}/{filter}</c> (spec 4.8.2).</summary>
public sealed class SharedSubscriptionTests
{
    /// <summary>
    /// Receives PUBLISH packets on all <paramref name="members"/> at once until <paramref name="total"/> arrived
    /// (or the receive timeout passed); returns each member's payloads. Members in <paramref name="noAck"/> do not acknowledge.
    /// </summary>
    private static async Task<List<string>[]> CollectAsync(int total, RawMqttClient[] members, RawMqttClient? noAck = null)
    {
        var lists = members.Select(_ => new List<string>()).ToArray();
        var count = 0;
        var deadline = DateTime.UtcNow + TestTimeouts.Receive;
        await Task.WhenAll(members.Select(async (member, i) =>
        {
            while (Volatile.Read(ref count) < total && DateTime.UtcNow < deadline)
            {
                PublishPacket publish;
                try
                {
                    publish = await member.ReceivePublishAsync(TimeSpan.FromMilliseconds(100), ack: member != noAck);
                }
                catch (MqttTestException) when (!member.IsClosed)
                {
                    continue;
                }

                lock (lists)
                {
                    lists[i].Add(publish.PayloadText());
                }

                Interlocked.Increment(ref count);
            }
        }));
        return lists;
    }

    private static string Show(List<string>[] lists) => string.Join(" | ", lists.Select(l => "[" + string.Join(",", l) + "]"));

    private static async Task<RawMqttClient[]> MembersAsync(TestBroker broker, string filter, int n = 2)
    {
        var members = new RawMqttClient[n];
        for (var i = 0; i < n; i++)
        {
            members[i] = await broker.ConnectV5Async(TestIds.Client($"m{i}"));
            await members[i].SubscribeV5GrantedAsync(filter);
        }

        return members;
    }

    private static async Task PublishManyAsync(TestBroker broker, string topic, int n)
    {
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        for (var i = 0; i < n; i++)
        {
            await publisher.PublishV5Async(topic, $"m{i}");
        }
    }

    [Fact]
    public async Task RoundRobin_EachMessageGoesToExactlyOneMember_AndBothGetSome()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var members = await MembersAsync(broker, $"$share/g/{topic}");
        try
        {
            await PublishManyAsync(broker, topic, 10);

            var lists = await CollectAsync(10, members);
            var all = lists.SelectMany(l => l).Order().ToArray();
            Assert.True(all.SequenceEqual(Enumerable.Range(0, 10).Select(i => $"m{i}").Order()), "each message exactly once: " + Show(lists));
            Assert.True(lists.All(l => l.Count > 0), "round robin must give both members some: " + Show(lists));
            foreach (var m in members)
            {
                await m.ExpectNoPacketAsync();
            }
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task RandomStrategy_EachMessageGoesToExactlyOneMember()
    {
        await using var broker = await StartAsync(("Broker:SharedSubscriptionStrategy", "Random"));
        var topic = TestIds.Topic();
        var members = await MembersAsync(broker, $"$share/g/{topic}");
        try
        {
            await PublishManyAsync(broker, topic, 40);

            var lists = await CollectAsync(40, members);
            var all = lists.SelectMany(l => l).Order().ToArray();
            Assert.True(all.SequenceEqual(Enumerable.Range(0, 40).Select(i => $"m{i}").Order()), "each message exactly once: " + Show(lists));
            Assert.True(lists.All(l => l.Count > 0), "40 random picks between two members give both some (p of failure 2^-39): " + Show(lists));
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task TwoGroupsAndAPlainSubscriber_EachGroupGetsEveryMessageOnce()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var groupA = await MembersAsync(broker, $"$share/a/{topic}");
        var groupB = await MembersAsync(broker, $"$share/b/{topic}");
        await using var plain = await SubscriberAsync(broker, topic);
        try
        {
            await PublishManyAsync(broker, topic, 4);

            var a = await CollectAsync(4, groupA);
            var b = await CollectAsync(4, groupB);
            Assert.Equal(4, a.Sum(l => l.Count));
            Assert.Equal(4, b.Sum(l => l.Count));
            for (var i = 0; i < 4; i++)
            {
                await plain.ExpectPublishAsync(topic, $"m{i}");
            }
        }
        finally
        {
            foreach (var m in groupA.Concat(groupB))
            {
                await m.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SharedSubscribe_GetsNoRetainedMessage()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishV5Async(topic, "retained", retain: true);
        await using var member = await broker.ConnectV5Async(TestIds.Client("m"));

        await member.SubscribeV5GrantedAsync($"$share/g/{topic}");

        await member.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task MemberLeavesWithUnackedQoS1_ItsMessagesGoToTheOtherMember()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var members = await MembersAsync(broker, $"$share/g/{topic}");
        var (leaver, stayer) = (members[0], members[1]);
        try
        {
            await PublishManyAsync(broker, topic, 4);
            var lists = await CollectAsync(4, members, noAck: leaver);
            Assert.True(lists[0].Count > 0, "round robin must give the leaving member some messages: " + Show(lists));

            await leaver.AbortAsync();

            var redelivered = new List<string>();
            for (var i = 0; i < lists[0].Count; i++)
            {
                redelivered.Add((await stayer.ReceivePublishAsync()).PayloadText());
            }

            Assert.Equal(lists[0].Order(), redelivered.Order());
            await stayer.ExpectNoPacketAsync();
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task UnsubscribedMember_GetsNoMore()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var members = await MembersAsync(broker, $"$share/g/{topic}");
        try
        {
            var ack = await members[0].UnsubscribeAsync($"$share/g/{topic}");
            Assert.True(ack.ReasonCodes.Count == 1 && ack.ReasonCodes[0] == 0, Describe(ack));

            await PublishManyAsync(broker, topic, 4);

            for (var i = 0; i < 4; i++)
            {
                await members[1].ExpectPublishAsync(topic, $"m{i}");
            }

            await members[0].ExpectNoPacketAsync();
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SharedSubscriptionsTurnedOff_SubAck9E()
    {
        await using var broker = await StartAsync(("Broker:SharedSubscriptionAvailable", "false"));
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeV5Async($"$share/g/{TestIds.Topic()}");

        Assert.True(ack.ReasonCodes[0] == (byte)ReasonCode.SharedSubscriptionsNotSupported, Describe(ack));
        await client.PingAsync();
    }

    [Theory]
    [InlineData("$share/g")]
    [InlineData("$share//t")]
    [InlineData("$share/g+/t")]
    public async Task InvalidShareName_SubAck8F(string filter)
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeV5Async(filter);

        Assert.True(ack.ReasonCodes[0] == (byte)ReasonCode.TopicFilterInvalid, $"'{filter}': {Describe(ack)}");
    }
}
