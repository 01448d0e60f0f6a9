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

    [Fact]
    public async Task A_large_retained_set_on_a_wildcard_subscribe_arrives_whole_paced_by_the_window()
    {
        // Far more retained messages than the queue holds: before, what did not fit was dropped.
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxQueuedMessages"] = "5", ["Broker:MaxInflight"] = "2" });
        var root = TestIds.Topic();
        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            for (var i = 0; i < 200; i++)
            {
                await publisher.PublishAsync($"{root}/{i}", $"v{i}", MqttQoS.AtLeastOnce, retain: true);
            }
        }

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(root + "/#", MqttQoS.AtLeastOnce);
        var topics = new HashSet<string>();
        for (var i = 0; i < 200; i++)
        {
            var message = await subscriber.ReceivePublishAsync();
            Assert.True(message.Retain);
            topics.Add(message.Topic);
        }

        Assert.Equal(200, topics.Count);
        Assert.Equal(0, broker.Server.Broker.Statistics.MessagesDropped);
    }

    [Fact]
    public async Task An_offline_queue_is_bounded_in_bytes_too()
    {
        // Room for four messages (payload and topic), not five.
        var topic = TestIds.Topic();
        var bound = (4 * (1000 + System.Text.Encoding.UTF8.GetByteCount(topic))) + 100;
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxQueuedBytes"] = bound.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var id = TestIds.Client("away");
        await broker.LeaveOfflineAsync(id, topic);

        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 0, "the session went offline");
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var payload = new byte[1000];
        for (var i = 0; i < 10; i++)
        {
            await publisher.PublishAsync(topic, payload, MqttQoS.AtLeastOnce);
        }

        // Four fit; the other six are dropped and counted.
        Assert.Equal(6, broker.Server.Broker.Statistics.Dropped(DropReason.QueueFull));
        await using var back = await broker.OpenRawAsync();
        Assert.True((await back.ConnectAsync(id, cleanSession: false)).SessionPresent);
        for (var i = 0; i < 4; i++)
        {
            await back.ReceivePublishAsync();
        }

        await back.ExpectNoPacketAsync();
    }
}
