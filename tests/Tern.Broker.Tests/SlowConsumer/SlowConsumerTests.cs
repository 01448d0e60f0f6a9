using System.Diagnostics;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.SlowConsumer;

/// <summary>A subscriber that stops reading must not stall the publisher, other subscribers or the broker.</summary>
public sealed class SlowConsumerTests
{
    private const int MessageCount = 300;
    private const int MessageSize = 10_000; // 3 MB in total, far beyond any socket buffer

    [Fact]
    public async Task StuckSubscriberDoesNotStallOtherSubscribersOrTheBroker()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();

        await using var stuck = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await stuck.ConnectAsync(TestIds.Client("stuck"))).ReasonCode);
        await stuck.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        stuck.PauseReading();

        await using var healthy = await broker.ConnectAsync(TestIds.Client("healthy"));
        await healthy.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        var stopwatch = Stopwatch.StartNew();
        var payload = new byte[MessageSize];
        for (var i = 0; i < MessageCount; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            await publisher.PublishAsync(topic, payload, MqttQoS.AtMostOnce);
        }

        // The publisher is still served: its PINGREQ is answered after all the PUBLISHes were read.
        await publisher.PingAsync();

        for (var i = 0; i < MessageCount; i++)
        {
            var message = await healthy.ReceivePublishAsync();
            Assert.Equal(i, BitConverter.ToInt32(message.Payload.Span));
        }

        // "Promptly": the whole run is bounded by the ordinary receive timeout per message above;
        // this records the figure in the test output for comparison.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"delivery to the healthy subscriber took {stopwatch.Elapsed}");
        await BrokerHealth.AssertServesAsync(broker, publisher, healthy);
    }

    [Fact]
    public async Task StuckQos1SubscriberDoesNotStallQos1PublisherUnderTheDropPolicy()
    {
        // Broker:SlowSubscriberPolicy=Drop: the stuck subscriber's queue overflows (counted) instead of
        // slowing the publisher (the default policy; see Reliability/OverloadTests).
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:MaxQueuedMessages"] = "50",
            ["Broker:SlowSubscriberPolicy"] = "Drop",
        });
        var topic = TestIds.Topic();

        await using var stuck = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await stuck.ConnectAsync(TestIds.Client("stuck"))).ReasonCode);
        await stuck.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        stuck.PauseReading();

        await using var healthy = await broker.ConnectAsync(TestIds.Client("healthy"));
        await healthy.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // The healthy subscriber acknowledges as messages arrive, so its own window and queue never fill.
        var consumer = Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.Equal(i, BitConverter.ToInt32((await healthy.ReceivePublishAsync()).Payload.Span));
            }
        });

        var payload = new byte[MessageSize];
        for (var i = 0; i < 200; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            await publisher.PublishAsync(topic, payload, MqttQoS.AtLeastOnce); // PUBACK must keep coming
        }

        await consumer;

        Assert.True(broker.Server.Broker.Statistics.Dropped(DropReason.QueueFull) > 0);
        await BrokerHealth.AssertServesAsync(broker, publisher, healthy);
    }
}
