using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Subscribe;

/// <summary>SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK and topic matching (spec 3.8–3.11, 4.7).</summary>
public sealed class SubscribeTests
{
    [Theory]
    [InlineData(MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task Mqtt_3_8_4_1_SubAckGrantsTheRequestedQos(MqttQoS qos)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());

        var ack = await client.SubscribeAsync(TestIds.Topic(), qos);

        Assert.Equal([(byte)qos], ack.ReasonCodes);
    }

    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a/b#")]
    [InlineData("a+/b")]
    [InlineData("#/a")]
    public async Task Mqtt_3_9_3_InvalidFilterGetsFailureCode0x80AndConnectionStaysOpen(string filter)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());
        var valid = TestIds.Topic();

        var ack = await client.SubscribeAsync((filter, MqttQoS.AtLeastOnce), (valid, MqttQoS.AtLeastOnce));

        Assert.Equal([0x80, 0x01], ack.ReasonCodes);
        await client.PublishAsync(valid, "valid filter works", MqttQoS.AtLeastOnce);
        Assert.Equal("valid filter works", (await client.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_8_4_4_SubAckOrderMatchesFilterOrder()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());

        var ack = await client.SubscribeAsync((TestIds.Topic(), MqttQoS.ExactlyOnce), (TestIds.Topic(), MqttQoS.AtMostOnce), (TestIds.Topic(), MqttQoS.AtLeastOnce));

        Assert.Equal([2, 0, 1], ack.ReasonCodes);
    }

    [Fact]
    public async Task Mqtt_3_8_4_3_RepeatedSubscribeReplacesQosAndResendsRetained()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "retained", MqttQoS.ExactlyOnce, retain: true);
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));

        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        var first = await subscriber.ReceivePublishAsync();
        Assert.Equal((MqttQoS.AtMostOnce, true), (first.QoS, first.Retain));

        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        var again = await subscriber.ReceivePublishAsync();
        Assert.Equal(("retained", MqttQoS.AtLeastOnce, true), (again.PayloadText(), again.QoS, again.Retain));

        await publisher.PublishAsync(topic, "live", MqttQoS.ExactlyOnce);
        var live = await subscriber.ReceivePublishAsync();
        Assert.Equal(("live", MqttQoS.AtLeastOnce), (live.PayloadText(), live.QoS));
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_3_5_1_OverlappingSubscriptionsDeliverOneCopyAtHighestGrantedQos()
    {
        await using var broker = await TestBroker.StartAsync();
        var root = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync($"{root}/+", MqttQoS.AtMostOnce);
        await subscriber.SubscribeGrantedAsync($"{root}/#", MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync($"{root}/x", "one copy", MqttQoS.ExactlyOnce);

        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(("one copy", MqttQoS.ExactlyOnce), (received.PayloadText(), received.QoS));
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_10_4_4_UnsubscribeIsAcknowledgedAndStopsDelivery()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        await subscriber.UnsubscribeAsync(topic);

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "after unsubscribe", MqttQoS.AtLeastOnce);
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_10_4_5_UnsubscribeOfUnknownFilterIsStillAcknowledged()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());

        await client.UnsubscribeAsync(TestIds.Topic());

        await client.PingAsync();
    }

    [Fact]
    public async Task Mqtt_3_10_4_1_UnsubscribeRemovesOnlyTheNamedFilter()
    {
        await using var broker = await TestBroker.StartAsync();
        var root = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync($"{root}/a", MqttQoS.AtLeastOnce);
        await subscriber.SubscribeGrantedAsync($"{root}/+", MqttQoS.AtLeastOnce);

        await subscriber.UnsubscribeAsync($"{root}/a");

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync($"{root}/a", "via +", MqttQoS.AtLeastOnce);
        Assert.Equal("via +", (await subscriber.ReceivePublishAsync()).PayloadText());
        await subscriber.ExpectNoPacketAsync();
    }

    [Theory]
    [InlineData("sport/tennis/player1", "sport/tennis/player1", true)]
    [InlineData("sport/+/player1", "sport/tennis/player1", true)]
    [InlineData("sport/+/player1", "sport/tennis/x/player1", false)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("sport/#", "sport/tennis/player1", true)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("#", "any/thing", true)]
    [InlineData("Sport/#", "sport/x", false)]
    public async Task Mqtt_4_7_TopicFiltersMatchAsTheSpecSays(string filter, string topic, bool matches)
    {
        // Each case has its own broker, so the spec's literal topics can be used.
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(filter, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        await publisher.PublishAsync(topic, "probe", MqttQoS.AtLeastOnce);

        if (matches)
        {
            var received = await subscriber.ReceivePublishAsync();
            Assert.Equal(topic, received.Topic);
        }
        else
        {
            await subscriber.ExpectNoPacketAsync();
        }
    }
}
