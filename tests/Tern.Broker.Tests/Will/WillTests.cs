using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Will;

/// <summary>Will messages (spec 3.1.2.5, 3.1.2.8): sent on every abnormal end, never after DISCONNECT.</summary>
public sealed class WillTests
{
    private static async Task<RawMqttClient> ObserveAsync(TestBroker broker, string topic, MqttQoS qos = MqttQoS.ExactlyOnce)
    {
        var observer = await broker.ConnectAsync(TestIds.Client("obs"));
        await observer.SubscribeGrantedAsync(topic, qos);
        return observer;
    }

    [Fact]
    public async Task Mqtt_3_1_2_8_WillIsPublishedWhenSocketClosesWithoutDisconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "gone"));

        await client.AbortAsync();

        var will = await observer.ReceivePublishAsync();
        Assert.Equal((topic, "gone"), (will.Topic, will.PayloadText()));
    }

    [Fact]
    public async Task Mqtt_3_1_2_8_WillIsPublishedWhenSocketIsReset()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "reset"));

        await client.AbortAsync(reset: true);

        Assert.Equal("reset", (await observer.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_1_2_8_WillIsPublishedOnKeepAliveTimeout()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), keepAlive: 1, will: PacketExtensions.Will(topic, "timed out"));

        // The client goes silent; after 1.5 s the broker must close it and publish the will.
        var will = await observer.ReceivePublishAsync(TimeSpan.FromSeconds(6));
        Assert.Equal("timed out", will.PayloadText());
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    [Fact]
    public async Task Mqtt_3_1_2_8_WillIsPublishedOnProtocolViolation()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "violated"));

        await client.SendRawAsync(RawPackets.Subscribe(1, "x", firstByte: 0x80)); // reserved flags 0000 [MQTT-3.8.1-1]

        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
        Assert.Equal("violated", (await observer.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_1_4_2_WillOfOldConnectionIsPublishedOnTakeover()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client();
        await using var observer = await ObserveAsync(broker, topic);
        await using var old = await broker.ConnectAsync(id, will: PacketExtensions.Will(topic, "taken over"));

        await using var current = await broker.ConnectAsync(id);

        Assert.True(await old.WaitForCloseAsync(), old.Transcript);
        Assert.Equal("taken over", (await observer.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_1_2_10_WillIsNotPublishedAfterDisconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "must not appear"));

        await client.DisconnectAsync();
        Assert.True(client.IsClosed, "the broker must close the connection after DISCONNECT [MQTT-3.14.4-1]\n" + client.Transcript);

        // A marker published after the disconnect was processed must be the first thing the observer sees.
        await using var marker = await broker.ConnectAsync(TestIds.Client("mark"));
        await marker.PublishAsync(topic, "marker", MqttQoS.AtLeastOnce);
        Assert.Equal("marker", (await observer.ReceivePublishAsync()).PayloadText());
        await observer.ExpectNoPacketAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Mqtt_3_1_2_10_WillIsNotPublishedWhenDisconnectIsFollowedAtOnceBySocketClose(bool reset)
    {
        // Clients write DISCONNECT and close the socket straight away; .NET clients such as MQTTnet
        // on Linux even reset it (RST) when a receive is pending. The DISCONNECT reached the broker
        // before the close, so the will must be discarded [MQTT-3.1.2-10]. Repeated to expose races.
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        for (var i = 0; i < 20; i++)
        {
            await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, $"must not appear {i}"));
            await client.SendAsync(DisconnectPacket.Normal);
            await client.AbortAsync(reset);
        }

        await using var marker = await broker.ConnectAsync(TestIds.Client("mark"));
        await marker.PublishAsync(topic, "marker", MqttQoS.AtLeastOnce);
        Assert.Equal("marker", (await observer.ReceivePublishAsync()).PayloadText());
        await observer.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_1_2_17_WillRetainIsHonoured()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "retained will", MqttQoS.AtLeastOnce, retain: true));
        await client.AbortAsync();
        Assert.Equal("retained will", (await observer.ReceivePublishAsync()).PayloadText());

        await using var late = await broker.ConnectAsync(TestIds.Client("late"));
        await late.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var retained = await late.ReceivePublishAsync();
        Assert.Equal("retained will", retained.PayloadText());
        Assert.True(retained.Retain, "a will with RETAIN 1 must be stored as retained");
    }

    [Fact]
    public async Task Mqtt_3_1_2_16_WillWithoutRetainIsNotStored()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "not retained", MqttQoS.AtLeastOnce, retain: false));
        await client.AbortAsync();
        Assert.Equal("not retained", (await observer.ReceivePublishAsync()).PayloadText());

        await using var late = await broker.ConnectAsync(TestIds.Client("late"));
        await late.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await late.ExpectNoPacketAsync();
    }

    [Theory]
    [InlineData(MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task Mqtt_3_1_2_14_WillQosIsHonoured(MqttQoS willQos)
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic, MqttQoS.ExactlyOnce);
        await using var client = await broker.ConnectAsync(TestIds.Client(), will: PacketExtensions.Will(topic, "qos", willQos));

        await client.AbortAsync();

        Assert.Equal(willQos, (await observer.ReceivePublishAsync()).QoS);
    }

    [Fact]
    public async Task Mqtt_3_1_2_8_WillIsPublishedOnlyOnce()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await ObserveAsync(broker, topic);
        await using var client = await broker.ConnectAsync(TestIds.Client(), keepAlive: 1, will: PacketExtensions.Will(topic, "once", MqttQoS.AtLeastOnce));

        // Protocol violation and socket close together must not yield two wills.
        await client.SendRawAsync([0x00, 0x00]);
        await client.AbortAsync();

        Assert.Equal("once", (await observer.ReceivePublishAsync()).PayloadText());
        await observer.ExpectNoPacketAsync(TimeSpan.FromSeconds(2)); // past the 1.5 s keep-alive as well
    }
}
