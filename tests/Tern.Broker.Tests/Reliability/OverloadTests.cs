using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Reliability;

/// <summary>
/// Overload: an online subscriber that falls behind slows the QoS 1/2 publishers feeding it (their
/// acknowledgements wait) instead of losing what they were told was received; an offline one slows
/// nobody and drops, counted; cycles of clients publishing to each other do not deadlock.
/// </summary>
public sealed class OverloadTests
{
    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs)
        => pairs.ToDictionary(p => p.Key, p => (string?)p.Value);

    [Fact]
    public async Task QoS1_fan_in_into_a_slower_online_subscriber_loses_nothing_and_slows_the_publishers()
    {
        const int Publishers = 10;
        const int PerPublisher = 300;
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "50"), ("Broker:MaxInflight", "8")));
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        // The subscriber acknowledges one message at a time; the publishers keep 64 in flight each.
        var received = new ConcurrentDictionary<(int, int), int>();
        var consumer = Task.Run(async () =>
        {
            for (var i = 0; i < Publishers * PerPublisher; i++)
            {
                var message = await subscriber.ReceivePublishAsync(TestTimeouts.External);
                var payload = message.Payload.Span;
                received.AddOrUpdate((BitConverter.ToInt32(payload), BitConverter.ToInt32(payload[4..])), 1, (_, n) => n + 1);
            }
        });

        var clients = new List<RawMqttClient>();
        for (var p = 0; p < Publishers; p++)
        {
            clients.Add(await broker.ConnectAsync(TestIds.Client($"pub{p}")));
        }

        await Task.WhenAll(clients.Select((client, p) => PublishWindowedAsync(client, topic, p, PerPublisher, window: 64)));
        await consumer;

        Assert.Equal(Publishers * PerPublisher, received.Count);
        Assert.Equal(0, broker.Server.Broker.Statistics.MessagesDropped);
        Assert.True(broker.Server.Broker.Connections.Sum(c => c.TimesSlowed) > 0, "the publishers were slowed");
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_offline_persistent_session_with_a_full_queue_slows_no_publisher_and_drops_counted()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "5")));
        var topic = TestIds.Topic();
        var id = TestIds.Client("away");
        await broker.LeaveOfflineAsync(id, topic);

        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 0, "the session went offline");
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        for (var i = 0; i < 100; i++)
        {
            // Each PUBACK comes at once: an offline session never holds anyone up.
            await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        Assert.Equal(0, broker.Server.Broker.Connections.Sum(c => c.TimesSlowed));
        Assert.Equal(95, broker.Server.Broker.Statistics.Dropped(DropReason.QueueFull));
        Assert.True(broker.Server.Broker.Sessions.TryGet(id, out var session));
        Assert.Equal(95, session!.Dropped(DropReason.QueueFull));

        // Drop newest (the default): the first five wait for the device.
        await using var back = await broker.OpenRawAsync();
        Assert.True((await back.ConnectAsync(id, cleanSession: false)).SessionPresent);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"m{i}", (await back.ReceivePublishAsync()).PayloadText());
        }

        await back.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task A_qos2_publish_refused_with_0x97_frees_its_packet_id_for_the_next_message()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "1")));
        var topic = TestIds.Topic();
        var id = TestIds.Client("away");
        await broker.LeaveOfflineAsync(id, topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "fits", MqttQoS.AtLeastOnce);

        // The queue is full: nobody takes it, and PUBREC says so [MQTT-4.3.3-4: the exchange ends].
        const ushort PacketId = 77;
        await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "refused"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = PacketId });
        Assert.Equal(ReasonCode.QuotaExceeded, (await publisher.ReceiveAckAsync<PubRecPacket>()).ReasonCode);

        // The device takes its message; the same packet id now carries a new message, which must be routed.
        await using (var device = await broker.OpenRawAsync())
        {
            Assert.True((await device.ConnectAsync(id, cleanSession: false)).SessionPresent);
            Assert.Equal("fits", (await device.ReceivePublishAsync()).PayloadText());
            await device.DisconnectAsync();
        }

        await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "new"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = PacketId });
        Assert.Equal(ReasonCode.Success, (await publisher.ReceiveAckAsync<PubRecPacket>()).ReasonCode);
        await publisher.SendAsync(new PubRelPacket { PacketId = PacketId });
        await publisher.ReceiveAckAsync<PubCompPacket>();

        await using var again = await broker.OpenRawAsync();
        Assert.True((await again.ConnectAsync(id, cleanSession: false)).SessionPresent);
        Assert.Equal("new", (await again.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Drop_oldest_keeps_the_newest_messages_of_an_offline_session()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "3"), ("Broker:QueueFullPolicy", "DropOldest")));
        var topic = TestIds.Topic();
        var id = TestIds.Client("away");
        await broker.LeaveOfflineAsync(id, topic);

        await TestWait.UntilAsync(() => broker.Server.Broker.ConnectedClients == 0, "the session went offline");
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        for (var i = 0; i < 10; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        await using var back = await broker.OpenRawAsync();
        Assert.True((await back.ConnectAsync(id, cleanSession: false)).SessionPresent);
        Assert.Equal(["m7", "m8", "m9"], [(await back.ReceivePublishAsync()).PayloadText(), (await back.ReceivePublishAsync()).PayloadText(), (await back.ReceivePublishAsync()).PayloadText()]);
        Assert.Equal(7, broker.Server.Broker.Statistics.Dropped(DropReason.QueueFull));
    }

    [Fact]
    public async Task Clients_publishing_to_each_other_and_to_themselves_while_slowed_do_not_deadlock()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "4"), ("Broker:MaxInflight", "2")));
        var root = TestIds.Topic();
        await using var a = new WindowedPeer(await broker.ConnectAsync(TestIds.Client("a")), window: 32);
        await using var b = new WindowedPeer(await broker.ConnectAsync(TestIds.Client("b")), window: 32);

        // Each hears both topics, its own included; both publish at once.
        await a.Client.SubscribeGrantedAsync(root + "/#", MqttQoS.AtLeastOnce);
        await b.Client.SubscribeGrantedAsync(root + "/#", MqttQoS.AtLeastOnce);
        const int PerClient = 300;
        var readers = Task.WhenAll(a.ReadAsync(publishes: 2 * PerClient, acks: PerClient), b.ReadAsync(publishes: 2 * PerClient, acks: PerClient));
        await Task.WhenAll(a.PublishAsync(root + "/a", PerClient), b.PublishAsync(root + "/b", PerClient));
        await readers;

        Assert.Equal(0, broker.Server.Broker.Statistics.MessagesDropped);
        Assert.True(broker.Server.Broker.Connections.Sum(c => c.TimesSlowed) > 0, "the clients were slowed");
    }

    [Fact]
    public async Task A_slowed_publisher_still_gets_its_PINGRESP_and_its_own_deliveries()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "2"), ("Broker:MaxInflight", "1")));
        var topic = TestIds.Topic();
        await using var slow = await broker.ConnectAsync(TestIds.Client("slow"));
        await slow.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        slow.PauseReading();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.SubscribeGrantedAsync(topic + "/own", MqttQoS.AtMostOnce);

        // One in flight, two queued: from the third on, the acknowledgements are held.
        for (var i = 0; i < 5; i++)
        {
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "x"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = publisher.NextPacketId() });
        }

        var pub = broker.Server.Broker.Connections.Single(c => c.ClientId == publisher.Name);
        await TestWait.UntilAsync(() => pub.HeldAcknowledgements == 3, "three acknowledgements are held");

        await publisher.SendAsync(new PublishPacket { Topic = topic + "/own", Payload = "mine"u8.ToArray() });
        await publisher.SendAsync(PingReqPacket.Instance);
        var acks = new List<ushort>();
        bool own = false, pong = false;
        while (!(own && pong))
        {
            switch (await publisher.ReceiveAnyAsync())
            {
                case PubAckPacket ack:
                    acks.Add(ack.PacketId);
                    break;
                case PublishPacket mine:
                    Assert.Equal("mine", mine.PayloadText());
                    own = true;
                    break;
                case PingRespPacket:
                    pong = true;
                    break;
            }
        }

        Assert.Equal(2, acks.Count);

        // The subscriber reads again: the held acknowledgements arrive, in order.
        slow.ResumeReading();
        var consumer = Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++)
            {
                await slow.ReceivePublishAsync();
            }
        });
        while (acks.Count < 5)
        {
            acks.Add((await publisher.ReceiveAsync<PubAckPacket>()).PacketId);
        }

        Assert.Equal(acks.Order().ToList(), acks);
        await consumer;
    }

    [Fact]
    public async Task A_stuck_subscriber_slows_its_publisher_until_the_write_deadline_closes_it()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:MaxQueuedMessages", "10"), ("Broker:WriteTimeoutSeconds", "30")), time: time);
        var topic = TestIds.Topic();
        await using var stuck = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await stuck.ConnectAsync(TestIds.Client("stuck"))).ReasonCode);
        await stuck.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        stuck.PauseReading();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var pub = broker.Server.Broker.Connections.Single(c => c.ClientId == publisher.Name);
        var stuckConnection = broker.Server.Broker.Connections.Single(c => c.ClientId == stuck.Name);

        // Large messages fill the socket (32 in flight × 512 KiB is more than any socket buffer);
        // then the queue passes its high-water mark.
        var payload = new byte[512 * 1024];
        var sent = 0;
        while (pub.HeldAcknowledgements == 0 || stuckConnection.FlushStalledSince == 0)
        {
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = payload, QoS = MqttQoS.AtLeastOnce, PacketId = publisher.NextPacketId() });
            sent++;
            Assert.True(sent < 1000, "the broker should have slowed the publisher by now");
            await publisher.SendAsync(PingReqPacket.Instance);
            while (await publisher.ReceiveAnyAsync() is not PingRespPacket)
            {
            }
        }

        // The deadline closes the stuck subscriber; its clean session ends and the publisher goes on.
        time.Advance(TimeSpan.FromSeconds(31));
        await TestWait.UntilAsync(() => pub.HeldAcknowledgements == 0, "the held acknowledgements went out");
        Assert.Equal(1, broker.Server.Broker.Statistics.SlowConsumersClosed);
    }

    private static async Task<int> CountAsync(RawMqttClient client, int expected)
    {
        var count = 0;
        while (count < expected)
        {
            if (await client.ReceiveAnyAsync(TestTimeouts.External) is PublishPacket publish)
            {
                await client.AcknowledgeAsync(publish);
                count++;
            }
        }

        return count;
    }

    /// <summary>Publishes QoS 1 with up to <paramref name="window"/> unacknowledged, as clients with an in-flight window do.</summary>
    private static async Task PublishWindowedAsync(RawMqttClient client, string topic, int publisher, int count, int window, bool readAcksOnly = true)
    {
        var outstanding = 0;
        var acked = 0;
        for (var seq = 0; seq < count; seq++)
        {
            while (outstanding >= window)
            {
                await WaitAckAsync();
            }

            var payload = new byte[8];
            BitConverter.TryWriteBytes(payload, publisher);
            BitConverter.TryWriteBytes(payload.AsSpan(4), seq);
            await client.SendAsync(new PublishPacket { Topic = topic, Payload = payload, QoS = MqttQoS.AtLeastOnce, PacketId = client.NextPacketId() });
            outstanding++;
        }

        while (acked < count)
        {
            await WaitAckAsync();
        }

        async Task WaitAckAsync()
        {
            await client.ReceiveAckAsync<PubAckPacket>(TestTimeouts.External);
            outstanding--;
            acked++;
        }
    }

    /// <summary>A client that publishes with an in-flight window and, on one reader, acknowledges what it receives.</summary>
    private sealed class WindowedPeer(RawMqttClient client, int window) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _window = new(window);

        public RawMqttClient Client { get; } = client;

        public async Task PublishAsync(string topic, int count)
        {
            for (var seq = 0; seq < count; seq++)
            {
                Assert.True(await _window.WaitAsync(TestTimeouts.External), $"{Client.Name}: no PUBACK for {TestTimeouts.External} (deadlock?)");
                await Client.SendAsync(new PublishPacket { Topic = topic, Payload = BitConverter.GetBytes(seq), QoS = MqttQoS.AtLeastOnce, PacketId = Client.NextPacketId() });
            }
        }

        public async Task ReadAsync(int publishes, int acks)
        {
            int received = 0, acked = 0;
            while (received < publishes || acked < acks)
            {
                switch (await Client.ReceiveAnyAsync(TestTimeouts.External))
                {
                    case PublishPacket publish:
                        received++;
                        await Client.SendAsync(new PubAckPacket { PacketId = publish.PacketId });
                        break;
                    case PubAckPacket:
                        acked++;
                        _window.Release();
                        break;
                }
            }
        }

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }
}
