using Microsoft.Extensions.Time.Testing;
using System.Text;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>PUBLISH properties (spec 3.3.2.3): user properties, payload format, expiry, request/response, content type.</summary>
public sealed class PublishPropertiesTests
{
    private static readonly byte[] InvalidUtf8 = [0x61, 0xC3, 0x28, 0xFF];

    [Fact]
    public async Task UserProperties_AreForwardedInOrderWithDuplicates()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        MqttUserProperty[] sent = [new("b", "2"), new("a", "1"), new("b", "3"), new("ü", "✓")];

        await publisher.PublishV5Async(topic, "props", properties: new MqttProperties { UserProperties = sent });

        var received = await subscriber.ExpectPublishAsync(topic, "props");
        Assert.Equal(sent, received.Properties?.UserProperties);
    }

    [Fact]
    public async Task ResponseTopicCorrelationDataAndContentType_PassThrough_ForRequestResponse()
    {
        await using var broker = await StartAsync();
        var requests = TestIds.Topic();
        var replies = TestIds.Topic();
        await using var responder = await SubscriberAsync(broker, requests);
        await using var requester = await SubscriberAsync(broker, replies);
        byte[] correlation = [1, 2, 3, 0, 255];

        await requester.PublishV5Async(requests, "{\"q\":1}", properties: new MqttProperties
        {
            ResponseTopic = replies,
            CorrelationData = correlation,
            ContentType = "application/json",
        });

        var request = await responder.ExpectPublishAsync(requests, "{\"q\":1}");
        var p = request.Properties;
        Assert.True(p?.ResponseTopic == replies && p.ContentType == "application/json", Describe(request));
        Assert.Equal(correlation, p.CorrelationData?.ToArray());

        await responder.PublishV5Async(p.ResponseTopic!, "answer", properties: new MqttProperties { CorrelationData = p.CorrelationData, ContentType = "text/plain" });

        var reply = await requester.ExpectPublishAsync(replies, "answer");
        Assert.Equal(correlation, reply.Properties?.CorrelationData?.ToArray());
        Assert.Equal("text/plain", reply.Properties?.ContentType);
    }

    [Fact]
    public async Task PayloadFormatIndicator1WithValidUtf8_IsDeliveredWithTheIndicator()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        var ack = await publisher.PublishQoS1V5Async(topic, "grüße", new MqttProperties { PayloadFormatIndicator = 1 });

        Assert.True(ack.ReasonCode == ReasonCode.Success, Describe(ack));
        var received = await subscriber.ExpectPublishAsync(topic, "grüße");
        Assert.Equal((byte)1, received.Properties?.PayloadFormatIndicator);
    }

    [Fact]
    public async Task PayloadFormatIndicator1WithInvalidUtf8_QoS1_IsPubAck99AndNotDelivered()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        var id = await publisher.SendPublishV5Async(topic, InvalidUtf8, MqttQoS.AtLeastOnce, new MqttProperties { PayloadFormatIndicator = 1 });
        var ack = await publisher.ReceiveAckAsync<PubAckPacket>();

        Assert.True(ack.PacketId == id && ack.ReasonCode == ReasonCode.PayloadFormatInvalid, Describe(ack));
        Assert.False(string.IsNullOrEmpty(ack.Properties?.ReasonString), "request problem information defaults to 1, so a reason string is expected: " + Describe(ack));
        await subscriber.ExpectNoPacketAsync();
        await publisher.PingAsync();
    }

    [Fact]
    public async Task PayloadFormatIndicator1WithInvalidUtf8_QoS0_IsDisconnect99()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.SendPublishV5Async(topic, InvalidUtf8, MqttQoS.AtMostOnce, new MqttProperties { PayloadFormatIndicator = 1 });

        var disconnect = await publisher.ExpectDisconnectAsync(ReasonCode.PayloadFormatInvalid);
        AssertHasReasonString(disconnect, publisher);
        await subscriber.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task PayloadFormatIndicator0WithBinaryPayload_IsDelivered()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.SendPublishV5Async(topic, InvalidUtf8, MqttQoS.AtLeastOnce, new MqttProperties { PayloadFormatIndicator = 0 });
        var ack = await publisher.ReceiveAckAsync<PubAckPacket>();

        Assert.True(ack.ReasonCode == ReasonCode.Success, Describe(ack));
        var received = await subscriber.ReceivePublishAsync();
        Assert.Equal(InvalidUtf8, received.Payload.ToArray());
    }

    [Fact]
    public async Task RequestProblemInformation0_NoReasonStringInPubAck()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"), new MqttProperties { RequestProblemInformation = 0 });

        await publisher.SendPublishV5Async(topic, InvalidUtf8, MqttQoS.AtLeastOnce, new MqttProperties { PayloadFormatIndicator = 1 });
        var ack = await publisher.ReceiveAckAsync<PubAckPacket>();

        Assert.True(ack.ReasonCode == ReasonCode.PayloadFormatInvalid, Describe(ack));
        Assert.True(ack.Properties?.ReasonString is null && ack.Properties?.UserProperties is null, "request problem information 0 forbids a reason string [MQTT-3.1.2-29]: " + Describe(ack));
    }

    [Fact]
    public async Task MessageExpiry_QueuedMessageWhoseExpiryPassed_IsNotDelivered()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        var id = TestIds.Client("exp");
        await using (var offline = await broker.ConnectV5Async(id, new MqttProperties { SessionExpiryInterval = 60 }))
        {
            await offline.SubscribeV5GrantedAsync(topic);
            await offline.DisconnectAsync();
        }

        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishQoS1V5Async(topic, "expires", new MqttProperties { MessageExpiryInterval = 1 });
        await publisher.PublishQoS1V5Async(topic, "stays");

        time.Advance(TimeSpan.FromSeconds(1.6)); // the broker's clock: waiting out the 1 s message expiry is the point of this test

        var (client, connAck) = await broker.OpenV5Async(id, cleanStart: false);
        await using var _ = client;
        Assert.True(connAck.SessionPresent, Describe(connAck));
        await client.ExpectPublishAsync(topic, "stays");
        await client.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task MessageExpiry_ForwardedIntervalIsReducedByTheTimeWaited()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        var id = TestIds.Client("exp");
        await using (var offline = await broker.ConnectV5Async(id, new MqttProperties { SessionExpiryInterval = 60 }))
        {
            await offline.SubscribeV5GrantedAsync(topic);
            await offline.DisconnectAsync();
        }

        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishQoS1V5Async(topic, "waited", new MqttProperties { MessageExpiryInterval = 10 });

        time.Advance(TimeSpan.FromSeconds(1.2)); // the broker's clock: the message must wait in the queue for the interval to shrink

        await using var client = await broker.ConnectV5Async(id, cleanStart: false);
        var received = await client.ExpectPublishAsync(topic, "waited");
        Assert.True(received.Properties?.MessageExpiryInterval == 9, "expiry 10 after waiting 1.2 s must be forwarded as 9 (8.8 rounded up): " + Describe(received));
    }

    [Fact]
    public async Task MessageExpiry_LiveMessageKeepsItsInterval()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, "live", properties: new MqttProperties { MessageExpiryInterval = 30 });

        var received = await subscriber.ExpectPublishAsync(topic, "live");
        Assert.True(received.Properties?.MessageExpiryInterval is >= 29 and <= 30, Describe(received));
    }

    [Fact]
    public async Task MessageExpiry_RetainedMessageExpires()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishV5Async(topic, "short-lived retained", properties: new MqttProperties { MessageExpiryInterval = 1 }, retain: true);

        await using (var early = await broker.ConnectV5Async(TestIds.Client("early")))
        {
            await early.SubscribeV5GrantedAsync(topic);
            var retained = await early.ExpectPublishAsync(topic, "short-lived retained");
            Assert.True(retained.Retain && retained.Properties?.MessageExpiryInterval is <= 1, Describe(retained));
        }

        time.Advance(TimeSpan.FromSeconds(1.6)); // the broker's clock: waiting out the 1 s expiry is the point of this test

        await using var late = await broker.ConnectV5Async(TestIds.Client("late"));
        await late.SubscribeV5GrantedAsync(topic);
        await late.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task PubAck10_WhenNoSubscriberMatched_And00WhenOneDid()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        var none = await publisher.PublishQoS1V5Async(topic, "nobody");
        Assert.True(none.ReasonCode == ReasonCode.NoMatchingSubscribers, Describe(none));

        await using var subscriber = await SubscriberAsync(broker, topic);
        var some = await publisher.PublishQoS1V5Async(topic, "somebody");
        Assert.True(some.ReasonCode == ReasonCode.Success, Describe(some));

        var id = await publisher.SendPublishV5Async(TestIds.Topic(), "nobody q2", MqttQoS.ExactlyOnce);
        var rec = await publisher.ReceiveAckAsync<PubRecPacket>();
        Assert.True(rec.PacketId == id && rec.ReasonCode == ReasonCode.NoMatchingSubscribers, Describe(rec));
        await publisher.SendAsync(new PubRelPacket { PacketId = id });
        var comp = await publisher.ReceiveAckAsync<PubCompPacket>();
        Assert.True(comp.ReasonCode == ReasonCode.Success, Describe(comp));
    }

    [Fact]
    public async Task PubRelForUnknownPacketId_IsPubComp92()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        await client.SendAsync(new PubRelPacket { PacketId = 4242 });

        var comp = await client.ReceiveAckAsync<PubCompPacket>();
        Assert.True(comp.PacketId == 4242 && comp.ReasonCode == ReasonCode.PacketIdentifierNotFound, Describe(comp));
    }

    [Fact]
    public async Task PayloadAndPropertiesSurviveAQoS2Hop()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        var payload = Encoding.UTF8.GetString(new byte[200].Select((_, i) => (byte)('a' + (i % 26))).ToArray());

        await publisher.PublishV5Async(topic, payload, MqttQoS.ExactlyOnce, new MqttProperties { ContentType = "text/plain", UserProperties = [new("k", "v")] });

        var received = await subscriber.ExpectPublishAsync(topic, payload);
        Assert.True(received.QoS == MqttQoS.ExactlyOnce && received.Properties?.ContentType == "text/plain", Describe(received));
        Assert.Equal([new MqttUserProperty("k", "v")], received.Properties?.UserProperties);
    }
}
