using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Publish;

/// <summary>QoS 0/1/2 flows in both directions (spec 4.3) and delivered QoS (spec 3.8.4).</summary>
public sealed class QoSFlowTests
{
    [Fact]
    public async Task Mqtt_4_3_1_Qos0PublishIsDeliveredAtQos0WithoutPacketId()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync(topic, "zero", MqttQoS.AtMostOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(topic, received.Topic);
        Assert.Equal("zero", received.PayloadText());
        Assert.Equal(MqttQoS.AtMostOnce, received.QoS);
        Assert.False(received.Dup);
        Assert.False(received.Retain);
        await publisher.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_3_2_Qos1PublisherGetsPubAckAndSubscriberGetsQos1WithPacketId()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // PublishAsync asserts PUBACK with the same packet id [MQTT-4.3.2-4].
        await publisher.PublishAsync(topic, "one", MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync(ack: false);
        Assert.Equal("one", received.PayloadText());
        Assert.Equal(MqttQoS.AtLeastOnce, received.QoS);
        Assert.NotEqual(0, received.PacketId);
        Assert.False(received.Dup, "[MQTT-3.3.1-3] first delivery must have DUP 0");
        await subscriber.AcknowledgeAsync(received);
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_3_3_Qos2FullFlowInBothDirections()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // Publisher side: PUBLISH → PUBREC → PUBREL → PUBCOMP, all with the same id.
        await publisher.PublishAsync(topic, "two", MqttQoS.ExactlyOnce);

        // Subscriber side: PUBLISH ← ; PUBREC → ; PUBREL ← ; PUBCOMP →.
        var received = await subscriber.ReceivePublishAsync(ack: false);
        Assert.Equal(MqttQoS.ExactlyOnce, received.QoS);
        Assert.NotEqual(0, received.PacketId);
        await subscriber.SendAsync(new PubRecPacket { PacketId = received.PacketId });
        var rel = await subscriber.ReceiveAsync<PubRelPacket>();
        Assert.Equal(received.PacketId, rel.PacketId);
        await subscriber.SendAsync(new PubCompPacket { PacketId = received.PacketId });
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_3_2_Qos1IsAcknowledgedWithoutAnySubscriber()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var publisher = await broker.ConnectAsync(TestIds.Client());

        await publisher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.AtLeastOnce);
        await publisher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.ExactlyOnce);
    }

    [Theory]
    [InlineData(MqttQoS.AtMostOnce, MqttQoS.ExactlyOnce, MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce, MqttQoS.ExactlyOnce, MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce, MqttQoS.ExactlyOnce, MqttQoS.ExactlyOnce)]
    [InlineData(MqttQoS.ExactlyOnce, MqttQoS.AtLeastOnce, MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce, MqttQoS.AtMostOnce, MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce, MqttQoS.AtMostOnce, MqttQoS.AtMostOnce)]
    public async Task Mqtt_3_8_4_6_DeliveredQosIsMinimumOfPublishedAndGranted(MqttQoS published, MqttQoS subscribed, MqttQoS expected)
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, subscribed);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync(topic, "m", published);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(expected, received.QoS);
    }

    [Fact]
    public async Task Mqtt_4_3_3_2_Qos2DuplicatePublishBeforePubRelIsDeliveredOnce()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        var publish = new PublishPacket { Topic = topic, Payload = "once"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = 42 };
        await publisher.SendAsync(publish);
        Assert.Equal(42, (await publisher.ReceiveAsync<PubRecPacket>()).PacketId);
        await publisher.SendAsync(publish with { Dup = true });
        Assert.Equal(42, (await publisher.ReceiveAsync<PubRecPacket>()).PacketId);
        await publisher.SendAsync(new PubRelPacket { PacketId = 42 });
        Assert.Equal(42, (await publisher.ReceiveAsync<PubCompPacket>()).PacketId);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal("once", received.PayloadText());
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_3_3_Qos2PacketIdCanBeReusedAfterPubComp()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        foreach (var payload in new[] { "first", "second" })
        {
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = Encoding.UTF8.GetBytes(payload), QoS = MqttQoS.ExactlyOnce, PacketId = 7 });
            await publisher.CompletePublishFlowAsync(MqttQoS.ExactlyOnce, 7);
        }

        Assert.Equal("first", (await subscriber.ReceivePublishAsync()).PayloadText());
        Assert.Equal("second", (await subscriber.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_4_6_0_MessagesOfOneTopicArriveInPublishOrder()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        for (var i = 0; i < 50; i++)
        {
            await publisher.PublishAsync(topic, i.ToString(System.Globalization.CultureInfo.InvariantCulture), MqttQoS.AtLeastOnce);
        }

        for (var i = 0; i < 50; i++)
        {
            var received = await subscriber.ReceivePublishAsync();
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), received.PayloadText());
        }
    }

    [Fact]
    public async Task Mqtt_3_3_PayloadBytesArriveUnchanged()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var payload = new byte[200_000];
        new Random(1234).NextBytes(payload);

        await publisher.PublishAsync(topic, payload, MqttQoS.AtLeastOnce);
        await publisher.PublishAsync(topic, ReadOnlyMemory<byte>.Empty, MqttQoS.AtLeastOnce);

        Assert.Equal(payload, (await subscriber.ReceivePublishAsync()).Payload.ToArray());
        Assert.Equal(0, (await subscriber.ReceivePublishAsync()).Payload.Length);
    }

    [Fact]
    public async Task Mqtt_3_3_PublisherSubscribedToItsOwnTopicReceivesItsMessage()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var client = await broker.ConnectAsync(TestIds.Client());
        await client.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);

        await client.PublishAsync(topic, "echo", MqttQoS.ExactlyOnce);

        var received = await client.ReceivePublishAsync();
        Assert.Equal(("echo", MqttQoS.ExactlyOnce), (received.PayloadText(), received.QoS));
    }

    [Fact]
    public async Task Mqtt_4_3_FanOutReachesEverySubscriber()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var subscribers = new List<RawMqttClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
                subscribers.Add(subscriber);
                await subscriber.SubscribeGrantedAsync(topic, (MqttQoS)(i % 3));
            }

            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic, "all", MqttQoS.ExactlyOnce);

            for (var i = 0; i < subscribers.Count; i++)
            {
                var received = await subscribers[i].ReceivePublishAsync();
                Assert.Equal(("all", (MqttQoS)(i % 3)), (received.PayloadText(), received.QoS));
            }
        }
        finally
        {
            foreach (var subscriber in subscribers)
            {
                await subscriber.DisposeAsync();
            }
        }
    }
}
