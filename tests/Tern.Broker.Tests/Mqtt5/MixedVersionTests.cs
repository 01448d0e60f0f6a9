using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>MQTT 3.1.1 and 5.0 clients on one broker: messages cross, 5.0 properties are dropped towards 3.1.1.</summary>
public sealed class MixedVersionTests
{
    [Fact]
    public async Task V311SubscriberReceivesFromV5Publisher_WithAliasResolvedAndPropertiesDropped()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("v311"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("v5"));
        var properties = new MqttProperties
        {
            TopicAlias = 1,
            UserProperties = [new("k", "v")],
            ContentType = "text/plain",
            ResponseTopic = "r",
            MessageExpiryInterval = 60,
        };

        await publisher.PublishV5Async(topic, "from v5", properties: properties);
        await publisher.PublishV5Async("", "via alias", properties: new MqttProperties { TopicAlias = 1 });

        var first = await subscriber.ExpectPublishAsync(topic, "from v5");
        Assert.True(first.QoS == MqttQoS.AtLeastOnce && first.Properties is null, Describe(first));
        await subscriber.ExpectPublishAsync(topic, "via alias");
    }

    [Fact]
    public async Task V5SubscriberReceivesFromV311Publisher_WithItsSubscriptionIdentifier()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("v5"));
        await subscriber.SubscribeV5GrantedAsync(topic, MqttQoS.ExactlyOnce, subscriptionId: 42);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("v311"));

        await publisher.PublishAsync(topic, "from 3.1.1", MqttQoS.ExactlyOnce);

        var received = await subscriber.ExpectPublishAsync(topic, "from 3.1.1");
        Assert.True(received.QoS == MqttQoS.ExactlyOnce, Describe(received));
        Assert.Equal([42u], received.Properties?.SubscriptionIdentifiers);
        Assert.Null(received.Properties?.UserProperties);
    }

    [Fact]
    public async Task V311PublisherGetsPlainPubAck_EvenWithoutSubscribers()
    {
        await using var broker = await StartAsync();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("v311"));

        await publisher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.AtLeastOnce);
        await publisher.PingAsync();
    }

    [Fact]
    public async Task RetainedFromV5_IsDeliveredToV311WithoutProperties()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("v5"));
        await publisher.PublishV5Async(topic, "kept", properties: new MqttProperties { UserProperties = [new("a", "b")] }, retain: true);
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("v311"));

        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var retained = await subscriber.ExpectPublishAsync(topic, "kept");
        Assert.True(retained.Retain, Describe(retained));
    }
}
