using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>MQTT 5.0 will: delay interval, will properties, DISCONNECT 0x04 (spec 3.1.2.5, 3.1.3.2, 3.14.2.1).</summary>
public sealed class Will5Tests
{
    private static WillMessage Will(string topic, string payload, MqttProperties? properties = null) =>
        PacketExtensions.Will(topic, payload, MqttQoS.AtLeastOnce) with { Properties = properties };

    [Fact]
    public async Task WillDelay_WillIsSentAfterTheDelay()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(
            TestIds.Client("wd"), new MqttProperties { SessionExpiryInterval = 30 }, will: Will(topic, "late will", new MqttProperties { WillDelayInterval = 1 }));

        await client.AbortAsync();
        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 1, "the broker saw the abort");
        time.Advance(TimeSpan.FromSeconds(0.9));
        await observer.PingAsync();
        await observer.ExpectNoPacketAsync();

        time.Advance(TimeSpan.FromSeconds(0.2));
        await observer.ExpectPublishAsync(topic, "late will");
    }

    [Fact]
    public async Task WillDelay_ReconnectWithinTheDelay_WillIsNotSent()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        var id = TestIds.Client("wd");
        await using var observer = await SubscriberAsync(broker, topic);
        await using (var client = await broker.ConnectV5Async(
            id, new MqttProperties { SessionExpiryInterval = 30 }, will: Will(topic, "must not appear", new MqttProperties { WillDelayInterval = 1 })))
        {
            await client.AbortAsync();
        }

        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 1, "the broker saw the abort");
        var (again, connAck) = await broker.OpenV5Async(id, new MqttProperties { SessionExpiryInterval = 30 }, cleanStart: false);
        await using var _ = again;
        Assert.True(connAck.ReasonCode == 0 && connAck.SessionPresent, Describe(connAck));

        // Past the 1 s delay on the broker's clock: absence is what this test asserts.
        time.Advance(TimeSpan.FromSeconds(1.6));
        await observer.PingAsync();
        await observer.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task WillDelayLongerThanSessionExpiry_WillIsSentAtSessionEnd()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(
            TestIds.Client("wd"), new MqttProperties { SessionExpiryInterval = 1 }, will: Will(topic, "session ended", new MqttProperties { WillDelayInterval = 600 }));

        await client.AbortAsync();
        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 1, "the broker saw the abort");
        time.Advance(TimeSpan.FromSeconds(0.9));
        await observer.PingAsync();
        await observer.ExpectNoPacketAsync();

        time.Advance(TimeSpan.FromSeconds(0.2));
        await observer.ExpectPublishAsync(topic, "session ended");
    }

    [Fact]
    public async Task WillDelayWithSessionExpiry0_WillIsSentImmediately()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(
            TestIds.Client("wd"), will: Will(topic, "session ended now", new MqttProperties { WillDelayInterval = 600 }));

        await client.AbortAsync();

        var will = await observer.ReceivePublishAsync(TimeSpan.FromSeconds(1));
        Assert.Equal("session ended now", will.PayloadText());
    }

    [Fact]
    public async Task WillProperties_ArriveOnTheWillMessage()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        byte[] correlation = [9, 8, 7];
        MqttUserProperty[] user = [new("device", "esp32"), new("reason", "lost"), new("device", "again")];
        await using var client = await broker.ConnectV5Async(
            TestIds.Client("wp"),
            will: Will(topic, "{\"online\":false}", new MqttProperties
            {
                ContentType = "application/json",
                ResponseTopic = "replies/here",
                CorrelationData = correlation,
                PayloadFormatIndicator = 1,
                MessageExpiryInterval = 120,
                UserProperties = user,
            }));

        await client.AbortAsync();

        var will = await observer.ExpectPublishAsync(topic, "{\"online\":false}");
        var p = will.Properties;
        Assert.True(p is { ContentType: "application/json", ResponseTopic: "replies/here", PayloadFormatIndicator: 1, MessageExpiryInterval: >= 119 and <= 120 }, Describe(will));
        Assert.Equal(correlation, p.CorrelationData?.ToArray());
        Assert.Equal(user, p.UserProperties);
    }

    [Fact]
    public async Task DisconnectWithReason04_WillIsSent()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(TestIds.Client("w04"), will: Will(topic, "asked for"));

        await client.SendAsync(new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage });

        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
        await observer.ExpectPublishAsync(topic, "asked for");
    }

    [Fact]
    public async Task NormalDisconnect_WillIsNotSent()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(TestIds.Client("w00"), will: Will(topic, "must not appear"));

        await client.DisconnectAsync();

        // A marker published after the disconnect was processed must be the first thing the observer sees.
        await using var marker = await broker.ConnectV5Async(TestIds.Client("mark"));
        await marker.PublishV5Async(topic, "marker");
        await observer.ExpectPublishAsync(topic, "marker");
        await observer.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task WillIsSentOnBrokerDisconnectForAProtocolError()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var observer = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(TestIds.Client("wpe"), will: Will(topic, "protocol error"));

        await client.SendPublishV5Async(TestIds.Topic(), "bad alias", MqttQoS.AtLeastOnce, new MqttProperties { TopicAlias = 60000 });

        await client.ExpectDisconnectAsync(ReasonCode.TopicAliasInvalid);
        await observer.ExpectPublishAsync(topic, "protocol error");
    }
}
