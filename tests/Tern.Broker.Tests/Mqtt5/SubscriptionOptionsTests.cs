using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Subscription identifiers (spec 3.8.2.1.2) and SUBSCRIBE options (3.8.3.1): no local, retain as published, retain handling.</summary>
public sealed class SubscriptionOptionsTests
{
    [Fact]
    public async Task SubscriptionIdentifier_IsCarriedOnMatchingPublish()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("sid"));
        await subscriber.SubscribeV5GrantedAsync(topic, subscriptionId: 7);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "for 7");

        var received = await subscriber.ExpectPublishAsync(topic, "for 7");
        Assert.Equal([7u], received.Properties?.SubscriptionIdentifiers);
    }

    [Fact]
    public async Task SubscriptionIdentifier_LargeVariableByteIntegerValue()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("sid"));
        await subscriber.SubscribeV5GrantedAsync(topic, subscriptionId: 268_435_455);

        await subscriber.PublishV5Async(topic, "max id");

        var received = await subscriber.ExpectPublishAsync(topic, "max id");
        Assert.Equal([268_435_455u], received.Properties?.SubscriptionIdentifiers);
    }

    [Fact]
    public async Task OverlappingSubscriptions_OnePublishCarriesBothIdentifiers()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("sid"));
        await subscriber.SubscribeV5GrantedAsync(topic, subscriptionId: 1);
        await subscriber.SubscribeV5GrantedAsync("tern-test/#", subscriptionId: 2);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "both");

        var received = await subscriber.ExpectPublishAsync(topic, "both");
        var ids = received.Properties?.SubscriptionIdentifiers ?? [];
        Assert.True(ids.Order().SequenceEqual([1u, 2u]), "one PUBLISH with identifiers 1 and 2 expected: " + Describe(received));
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task SubscriptionWithoutIdentifier_PublishHasNone_AndResubscribeReplacesTheIdentifier()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("sid"));
        await subscriber.SubscribeV5GrantedAsync(topic);
        await subscriber.PublishV5Async(topic, "no id");
        var plain = await subscriber.ExpectPublishAsync(topic, "no id");
        Assert.Null(plain.Properties?.SubscriptionIdentifiers);

        await subscriber.SubscribeV5GrantedAsync(topic, subscriptionId: 9);
        await subscriber.PublishV5Async(topic, "id 9");
        var withId = await subscriber.ExpectPublishAsync(topic, "id 9");
        Assert.Equal([9u], withId.Properties?.SubscriptionIdentifiers);
    }

    [Fact]
    public async Task SubscriptionIdentifierZero_IsProtocolError()
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("sid0"));

        await client.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription(TestIds.Topic(), new SubscriptionOptions(MqttQoS.AtLeastOnce))],
            Properties = new MqttProperties { SubscriptionIdentifiers = [0] },
        });

        await client.ExpectDisconnectAsync(ReasonCode.ProtocolError, ReasonCode.MalformedPacket);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task SubscriptionIdentifiersTurnedOff_SubscribeWithOneIsDisconnectA1()
    {
        await using var broker = await StartAsync(("Broker:SubscriptionIdentifiersAvailable", "false"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("sidoff"));

        await client.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription(TestIds.Topic(), new SubscriptionOptions(MqttQoS.AtLeastOnce))],
            Properties = new MqttProperties { SubscriptionIdentifiers = [5] },
        });

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.SubscriptionIdentifiersNotSupported);
        AssertHasReasonString(disconnect, client);
    }

    [Fact]
    public async Task NoLocal_OwnMessagesAreNotReceived_OthersAre()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var client = await broker.ConnectV5Async(TestIds.Client("nl"));
        await client.SubscribeV5GrantedAsync(topic, noLocal: true);
        await using var other = await broker.ConnectV5Async(TestIds.Client("other"));

        await client.PublishV5Async(topic, "mine");
        await other.PublishV5Async(topic, "theirs");

        await client.ExpectPublishAsync(topic, "theirs");
        await client.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task NoLocalOff_OwnMessagesAreReceived()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var client = await broker.ConnectV5Async(TestIds.Client("nl"));
        await client.SubscribeV5GrantedAsync(topic, noLocal: false);

        await client.PublishV5Async(topic, "mine");

        await client.ExpectPublishAsync(topic, "mine");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RetainAsPublished_DecidesTheRetainFlagOnLiveMessages(bool retainAsPublished)
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("rap"));
        await subscriber.SubscribeV5GrantedAsync(topic, retainAsPublished: retainAsPublished);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "live retained", retain: true);
        await publisher.PublishV5Async(topic, "live plain");

        var retained = await subscriber.ExpectPublishAsync(topic, "live retained");
        Assert.True(retained.Retain == retainAsPublished, $"retain as published {retainAsPublished}: {Describe(retained)}");
        var plain = await subscriber.ExpectPublishAsync(topic, "live plain");
        Assert.False(plain.Retain, Describe(plain));
    }

    private static async Task<(TestBroker Broker, string Topic)> WithRetainedAsync()
    {
        var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishV5Async(topic, "retained", retain: true);
        return (broker, topic);
    }

    [Fact]
    public async Task RetainHandling0_RetainedIsSentOnEverySubscribe()
    {
        var (broker, topic) = await WithRetainedAsync();
        await using var _ = broker;
        await using var client = await broker.ConnectV5Async(TestIds.Client("rh0"));

        await client.SubscribeV5GrantedAsync(topic, retainHandling: 0);
        Assert.True((await client.ExpectPublishAsync(topic, "retained")).Retain);
        await client.SubscribeV5GrantedAsync(topic, retainHandling: 0);
        Assert.True((await client.ExpectPublishAsync(topic, "retained")).Retain);
    }

    [Fact]
    public async Task RetainHandling1_RetainedIsSentOnlyForANewSubscription()
    {
        var (broker, topic) = await WithRetainedAsync();
        await using var _ = broker;
        await using var client = await broker.ConnectV5Async(TestIds.Client("rh1"));

        await client.SubscribeV5GrantedAsync(topic, retainHandling: 1);
        Assert.True((await client.ExpectPublishAsync(topic, "retained")).Retain);

        await client.SubscribeV5GrantedAsync(topic, retainHandling: 1);
        await client.ExpectNoPacketAsync();

        await client.UnsubscribeAsync(topic);
        await client.SubscribeV5GrantedAsync(topic, retainHandling: 1);
        Assert.True((await client.ExpectPublishAsync(topic, "retained")).Retain);
    }

    [Fact]
    public async Task RetainHandling2_RetainedIsNeverSent_ButLiveMessagesAre()
    {
        var (broker, topic) = await WithRetainedAsync();
        await using var _ = broker;
        await using var client = await broker.ConnectV5Async(TestIds.Client("rh2"));

        await client.SubscribeV5GrantedAsync(topic, retainHandling: 2);
        await client.ExpectNoPacketAsync();

        await client.PublishV5Async(topic, "live");
        await client.ExpectPublishAsync(topic, "live");
    }

    [Fact]
    public async Task RetainHandling3_IsProtocolError()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("rh3"));

        // Options byte 0x31: QoS 1, retain handling 3 (reserved) [MQTT-3.8.3-5] / spec 3.8.3.1.
        var filter = TestIds.Topic();
        await client.SendRawAsync(RawPackets.Frame(0x82, RawPackets.U16(1), [0x00], RawPackets.Field(filter), [0x31]));

        await client.ExpectDisconnectAsync(ReasonCode.ProtocolError, ReasonCode.MalformedPacket);
    }
}
