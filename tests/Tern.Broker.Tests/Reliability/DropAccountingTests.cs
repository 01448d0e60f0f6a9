using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Reliability;

/// <summary>Nothing is lost silently: what the broker does not deliver is refused or counted with a reason.</summary>
public sealed class DropAccountingTests
{
    [Fact]
    public async Task A_3_1_1_publish_deeper_than_MaxTopicLevels_is_not_acknowledged_but_closes_the_connection()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxTopicLevels"] = "3" });
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // Before: PUBACKed, then dropped without a trace.
        await publisher.SendAsync(new PublishPacket { Topic = "a/b/c/d", Payload = "deep"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = 1 });

        Assert.True(await publisher.WaitForCloseAsync());
        Assert.DoesNotContain("PUBACK", publisher.Transcript, StringComparison.Ordinal);
        Assert.Equal(1, broker.Server.Broker.Statistics.ProtocolErrors);
    }

    [Fact]
    public async Task A_retained_message_the_full_store_cannot_keep_is_counted()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxRetainedMessages"] = "1", ["Broker:SysIntervalSeconds"] = "0" });
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var topic = TestIds.Topic();

        await publisher.PublishAsync(topic + "/1", "kept", MqttQoS.AtLeastOnce, retain: true);
        await publisher.PublishAsync(topic + "/2", "no room", MqttQoS.AtLeastOnce, retain: true);

        // Before: not stored and not counted.
        Assert.Equal(1, broker.Server.Broker.Statistics.Dropped(DropReason.RetainedStoreFull));
        Assert.Equal(1, broker.Server.Broker.RetainedCount);
    }

    [Fact]
    public async Task QoS0_for_a_client_too_far_behind_is_counted_for_that_client()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxQueuedQoS0Messages"] = "1" });
        var topic = TestIds.Topic();
        await using var slow = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await slow.ConnectAsync(TestIds.Client("slow"))).ReasonCode);
        await slow.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        slow.PauseReading();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var payload = new byte[256 * 1024];
        Assert.True(broker.Server.Broker.Sessions.TryGet(slow.Name, out var session));
        using (var bound = new CancellationTokenSource(TestTimeouts.External))
        {
            while (session!.Dropped(DropReason.QoS0QueueFull) == 0)
            {
                await publisher.PublishAsync(topic, payload, MqttQoS.AtMostOnce);
                await publisher.PingAsync();
                bound.Token.ThrowIfCancellationRequested();
            }
        }

        Assert.Equal(session.Dropped(DropReason.QoS0QueueFull), broker.Server.Broker.Statistics.Dropped(DropReason.QoS0QueueFull));
        Assert.Equal(session.DroppedTotal, broker.Server.Broker.Statistics.MessagesDropped);
    }
}
