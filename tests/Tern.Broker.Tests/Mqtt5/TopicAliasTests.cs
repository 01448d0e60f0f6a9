using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Topic aliases in both directions (spec 3.3.2.3.4, 4.13).</summary>
public sealed class TopicAliasTests
{
    private static MqttProperties Alias(ushort alias) => new() { TopicAlias = alias };

    [Fact]
    public async Task ClientToBroker_AliasSetThenUsedWithEmptyTopic_IsDeliveredOnTheTopic()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "with topic", properties: Alias(3));
        await publisher.PublishV5Async("", "alias only", properties: Alias(3));
        await publisher.PublishV5Async("", "alias only q0", MqttQoS.AtMostOnce, Alias(3));

        await subscriber.ExpectPublishAsync(topic, "with topic");
        await subscriber.ExpectPublishAsync(topic, "alias only");
        var last = await subscriber.ExpectPublishAsync(topic, "alias only q0");
        Assert.Null(last.Properties?.TopicAlias); // the subscriber set no topic alias maximum
    }

    [Fact]
    public async Task ClientToBroker_AliasCanBeRemapped()
    {
        await using var broker = await StartAsync();
        var a = TestIds.Topic();
        var b = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, "tern-test/#");
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(a, "to a", properties: Alias(1));
        await publisher.PublishV5Async(b, "to b", properties: Alias(1));
        await publisher.PublishV5Async("", "alias 1 now b", properties: Alias(1));

        await subscriber.ExpectPublishAsync(a, "to a");
        await subscriber.ExpectPublishAsync(b, "to b");
        await subscriber.ExpectPublishAsync(b, "alias 1 now b");
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)11)]
    public async Task ClientToBroker_AliasZeroOrAboveMaximum_IsDisconnect94(ushort alias)
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("alias"));

        await client.SendPublishV5Async(TestIds.Topic(), "bad alias", MqttQoS.AtLeastOnce, Alias(alias));

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.TopicAliasInvalid);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task ClientToBroker_AnyAliasWhenMaximumIsZero_IsDisconnect94()
    {
        await using var broker = await StartAsync(("Broker:TopicAliasMaximum", "0"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("alias"));

        await client.SendPublishV5Async(TestIds.Topic(), "alias not allowed", MqttQoS.AtLeastOnce, Alias(1));

        await client.ExpectDisconnectAsync(ReasonCode.TopicAliasInvalid);
    }

    [Fact]
    public async Task ClientToBroker_EmptyTopicWithUnknownAlias_IsDisconnect82()
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("alias"));

        await client.SendPublishV5Async("", "unknown alias", MqttQoS.AtLeastOnce, Alias(2));

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.ProtocolError);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task ClientToBroker_EmptyTopicWithoutAlias_IsDisconnect82()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("alias"));

        await client.SendPublishV5Async("", "no topic at all", MqttQoS.AtLeastOnce);

        await client.ExpectDisconnectAsync(ReasonCode.ProtocolError, ReasonCode.TopicNameInvalid);
    }

    [Fact]
    public async Task ClientToBroker_AliasesArePerConnection()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var first = await broker.ConnectV5Async(TestIds.Client("a1"));
        await first.PublishV5Async(topic, "sets alias 4", properties: Alias(4));
        await using var second = await broker.ConnectV5Async(TestIds.Client("a2"));

        await second.SendPublishV5Async("", "alias 4 is not mine", MqttQoS.AtLeastOnce, Alias(4));

        await second.ExpectDisconnectAsync(ReasonCode.ProtocolError);
        await first.PingAsync();
    }

    [Fact]
    public async Task BrokerToClient_FirstPublishCarriesTopicAndAlias_LaterOnesOnlyTheAlias()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic, connect: new MqttProperties { TopicAliasMaximum = 5 });
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        for (var i = 1; i <= 3; i++)
        {
            await publisher.PublishV5Async(topic, $"m{i}");
        }

        var first = await subscriber.ReceivePublishAsync();
        Assert.True(first.Topic == topic && first.Properties?.TopicAlias is >= 1 and <= 5, "first PUBLISH must carry the topic and an alias 1..5: " + Describe(first));
        var alias = first.Properties!.TopicAlias;
        for (var i = 2; i <= 3; i++)
        {
            var next = await subscriber.ReceivePublishAsync();
            Assert.True(
                next.Topic.Length == 0 && next.Properties?.TopicAlias == alias && next.PayloadText() == $"m{i}",
                $"PUBLISH {i} must have an empty topic and alias {alias}: {Describe(next)}\n{subscriber.Transcript}");
        }
    }

    [Fact]
    public async Task BrokerToClient_DistinctTopicsGetDistinctAliases()
    {
        await using var broker = await StartAsync();
        var a = TestIds.Topic();
        var b = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, "tern-test/#", connect: new MqttProperties { TopicAliasMaximum = 5 });
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(a, "a1");
        await publisher.PublishV5Async(b, "b1");
        await publisher.PublishV5Async(a, "a2");
        await publisher.PublishV5Async(b, "b2");

        var a1 = await subscriber.ReceivePublishAsync();
        var b1 = await subscriber.ReceivePublishAsync();
        var a2 = await subscriber.ReceivePublishAsync();
        var b2 = await subscriber.ReceivePublishAsync();
        Assert.True(a1.Topic == a && b1.Topic == b, Describe(a1) + " / " + Describe(b1));
        Assert.NotEqual(a1.Properties?.TopicAlias, b1.Properties?.TopicAlias);
        // A later PUBLISH may repeat the topic; whatever it does, topic + alias must resolve to the right topic.
        Assert.True(a2.Topic == a || (a2.Topic.Length == 0 && a2.Properties?.TopicAlias == a1.Properties?.TopicAlias), Describe(a2));
        Assert.True(b2.Topic == b || (b2.Topic.Length == 0 && b2.Properties?.TopicAlias == b1.Properties?.TopicAlias), Describe(b2));
    }

    [Fact]
    public async Task BrokerToClient_NoAliasWithoutTopicAliasMaximum()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "m1");
        await publisher.PublishV5Async(topic, "m2");

        foreach (var payload in new[] { "m1", "m2" })
        {
            var p = await subscriber.ExpectPublishAsync(topic, payload);
            Assert.Null(p.Properties?.TopicAlias);
        }
    }
}
