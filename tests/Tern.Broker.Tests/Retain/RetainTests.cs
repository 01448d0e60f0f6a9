using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Retain;

/// <summary>Retained messages (spec 3.3.1.3).</summary>
public sealed class RetainTests
{
    [Fact]
    public async Task Mqtt_3_3_1_6_RetainedMessageIsSentToNewSubscriberWithRetainFlag()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "kept", MqttQoS.AtLeastOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(topic, received.Topic);
        Assert.Equal("kept", received.PayloadText());
        Assert.True(received.Retain, "[MQTT-3.3.1-8] a retained message sent on subscribe must have RETAIN 1");
        Assert.Equal(MqttQoS.AtLeastOnce, received.QoS);
    }

    [Fact]
    public async Task Mqtt_3_3_1_5_Qos0RetainedMessageIsStored()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "q0 kept", MqttQoS.AtMostOnce, retain: true);
        await publisher.PingAsync(); // the QoS 0 PUBLISH was read before the PINGREQ

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal("q0 kept", received.PayloadText());
        Assert.True(received.Retain);
        Assert.Equal(MqttQoS.AtMostOnce, received.QoS);
    }

    [Fact]
    public async Task Mqtt_3_3_1_7_NewRetainedMessageReplacesTheOldOne()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "old", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync(topic, "new", MqttQoS.AtLeastOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        Assert.Equal("new", (await subscriber.ReceivePublishAsync()).PayloadText());
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_3_1_10_EmptyRetainedPayloadDeletesTheRetainedMessage()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "to delete", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync(topic, ReadOnlyMemory<byte>.Empty, MqttQoS.AtLeastOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_3_1_10_EmptyRetainedPayloadIsStillDeliveredToCurrentSubscribers()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync(topic, ReadOnlyMemory<byte>.Empty, MqttQoS.AtLeastOnce, retain: true);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(0, received.Payload.Length);
        Assert.False(received.Retain, "[MQTT-3.3.1-9] a live message to an existing subscriber must have RETAIN 0");
    }

    [Fact]
    public async Task Mqtt_3_3_1_9_LiveRetainedPublishToExistingSubscriberHasRetain0()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync(topic, "live", MqttQoS.AtLeastOnce, retain: true);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal("live", received.PayloadText());
        Assert.False(received.Retain, "[MQTT-3.3.1-9] a live message to an existing subscriber must have RETAIN 0");
    }

    [Fact]
    public async Task Mqtt_3_3_1_6_RetainedMessagesAreSentOnMultiLevelWildcardSubscribe()
    {
        await using var broker = await TestBroker.StartAsync();
        var root = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync($"{root}/a", "A", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync($"{root}/b/c", "BC", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync($"{root}-other/x", "other", MqttQoS.AtLeastOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync($"{root}/#", MqttQoS.AtLeastOnce);

        var received = new[] { await subscriber.ReceivePublishAsync(), await subscriber.ReceivePublishAsync() };
        Assert.All(received, p => Assert.True(p.Retain));
        Assert.Equal(
            [($"{root}/a", "A"), ($"{root}/b/c", "BC")],
            received.Select(p => (p.Topic, p.PayloadText())).OrderBy(x => x.Topic, StringComparer.Ordinal));
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_3_1_6_RetainedMessagesAreSentOnSingleLevelWildcardSubscribe()
    {
        await using var broker = await TestBroker.StartAsync();
        var root = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync($"{root}/x/temp", "match", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync($"{root}/x/y/temp", "too deep", MqttQoS.AtLeastOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync($"{root}/+/temp", MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(($"{root}/x/temp", "match", true), (received.Topic, received.PayloadText(), received.Retain));
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_8_4_6_RetainedMessageIsSentAtMinimumOfStoredAndGrantedQos()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "q2 stored", MqttQoS.ExactlyOnce, retain: true);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(MqttQoS.AtLeastOnce, received.QoS);
        Assert.True(received.Retain);
    }

    [Fact]
    public async Task Mqtt_3_3_1_RetainedMessageOutlivesItsPublisher()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            await publisher.PublishAsync(topic, "survives", MqttQoS.AtLeastOnce, retain: true);
            await publisher.DisconnectAsync();
        }

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        Assert.Equal("survives", (await subscriber.ReceivePublishAsync()).PayloadText());
    }
}
