using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Receive maximum and maximum packet size in both directions (spec 3.1.2.11.3-4, 3.2.2.3.3, 3.2.2.3.6, 4.9).</summary>
public sealed class FlowControlTests
{
    [Fact]
    public async Task ClientReceiveMaximum2_BrokerSendsOnlyTwoUnacknowledgedQoS1Publishes()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await SubscriberAsync(broker, topic, connect: new MqttProperties { ReceiveMaximum = 2 });
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        for (var i = 1; i <= 5; i++)
        {
            await publisher.PublishQoS1V5Async(topic, $"m{i}");
        }

        var first = await subscriber.ExpectPublishAsync(topic, "m1", ack: false);
        var second = await subscriber.ExpectPublishAsync(topic, "m2", ack: false);
        await subscriber.ExpectNoPacketAsync();

        await subscriber.AcknowledgeAsync(first);
        var third = await subscriber.ExpectPublishAsync(topic, "m3", ack: false);
        await subscriber.ExpectNoPacketAsync();

        await subscriber.AcknowledgeAsync(second);
        await subscriber.AcknowledgeAsync(third);
        await subscriber.ExpectPublishAsync(topic, "m4");
        await subscriber.ExpectPublishAsync(topic, "m5");
    }

    [Fact]
    public async Task BrokerReceiveMaximum_ExceededWithQoS2_IsDisconnect93_AndOnlyThatConnectionCloses()
    {
        await using var broker = await StartAsync(("Broker:ReceiveMaximum", "2"));
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client("rm"));
        await using var _ = client;
        Assert.Equal((ushort)2, connAck.Properties?.ReceiveMaximum);
        var topic = TestIds.Topic();

        for (var i = 1; i <= 2; i++)
        {
            var id = await client.SendPublishV5Async(topic, $"q2 {i}", MqttQoS.ExactlyOnce);
            var rec = await client.ReceiveAckAsync<PubRecPacket>();
            Assert.Equal(id, rec.PacketId);
        }

        await client.SendPublishV5Async(topic, "q2 3 (one too many)", MqttQoS.ExactlyOnce);

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.ReceiveMaximumExceeded);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task BrokerReceiveMaximum_ReleasedQoS2DoesNotCount()
    {
        await using var broker = await StartAsync(("Broker:ReceiveMaximum", "2"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("rm"));
        var topic = TestIds.Topic();

        for (var i = 0; i < 5; i++)
        {
            await client.PublishV5Async(topic, $"q2 {i}", MqttQoS.ExactlyOnce);
        }

        await client.PingAsync();
    }

    [Fact]
    public async Task ClientMaximumPacketSize_TooLargeMessageIsNotSentToIt_OthersGetIt_AndTheSlotIsFreed()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        // Receive maximum 1: if the dropped message kept its in-flight slot, "small" could never be sent.
        await using var limited = await SubscriberAsync(broker, topic, connect: new MqttProperties { MaximumPacketSize = 128, ReceiveMaximum = 1 });
        await using var unlimited = await SubscriberAsync(broker, topic);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        var big = new string('x', 300);

        await publisher.PublishQoS1V5Async(topic, big);
        await publisher.PublishQoS1V5Async(topic, "small");

        await unlimited.ExpectPublishAsync(topic, big);
        await unlimited.ExpectPublishAsync(topic, "small");
        await limited.ExpectPublishAsync(topic, "small");
        await limited.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task ClientMaximumPacketSize_QoS0TooLargeIsDropped()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var limited = await SubscriberAsync(broker, topic, MqttQoS.AtMostOnce, new MqttProperties { MaximumPacketSize = 100 });
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));

        await publisher.PublishV5Async(topic, new string('y', 200), MqttQoS.AtMostOnce);
        await publisher.PublishV5Async(topic, "fits", MqttQoS.AtMostOnce);

        await limited.ExpectPublishAsync(topic, "fits");
        await limited.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task BrokerMaxPacketSize_LargerPacketIsDisconnect95_AndOnlyThatConnectionCloses()
    {
        await using var broker = await StartAsync(("Broker:MaxPacketSize", "256"));
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client("big"));
        await using var _ = client;
        Assert.Equal(256u, connAck.Properties?.MaximumPacketSize);

        await client.SendPublishV5Async(TestIds.Topic(), new string('z', 400), MqttQoS.AtLeastOnce);

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.PacketTooLarge);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }
}
