using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Persistence;

/// <summary>
/// The store (Persistence:Mode durable, the default): a broker stopped and started again on the same
/// directory has its persistent sessions, their subscriptions and messages, and its retained
/// messages back. The kill -9 tests run <c>tern start</c> as a child process (Tern.Cli.Tests).
/// </summary>
public sealed class StoreRestartTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-store-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Task<TestBroker> StartAsync(TimeProvider? time = null, string mode = "durable", int maxRetained = 100_000) => TestBroker.StartAsync(
        new Dictionary<string, string?>
        {
            ["Persistence:Mode"] = mode,
            ["Persistence:Directory"] = _directory,
            ["Broker:MaxRetainedMessages"] = maxRetained.ToString(System.Globalization.CultureInfo.InvariantCulture),

            // $SYS reports are retained too: they would compete for a small retained limit.
            ["Broker:SysIntervalSeconds"] = "0",
        },
        time: time);

    [Theory]
    [InlineData("durable")]
    [InlineData("strict")]
    public async Task Subscriptions_queued_messages_and_retained_messages_survive_a_restart(string mode)
    {
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var broker = await StartAsync(mode: mode))
        {
            await broker.LeaveOfflineAsync(id, topic + "/#", MqttQoS.ExactlyOnce);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic + "/1", "q1", MqttQoS.AtLeastOnce);
            await publisher.PublishAsync(topic + "/2", "q2", MqttQoS.ExactlyOnce);
            await publisher.PublishAsync(topic + "/config", "retained", MqttQoS.AtLeastOnce, retain: true);
        }

        await using (var broker = await StartAsync(mode: mode))
        {
            await using var device = await broker.OpenRawAsync();
            var connAck = await device.ConnectAsync(id, cleanSession: false);
            Assert.True(connAck.SessionPresent, "the session was stored");
            var received = new List<(string, string, MqttQoS)>();
            for (var i = 0; i < 3; i++)
            {
                var p = await device.ReceivePublishAsync();
                received.Add((p.Topic, p.PayloadText(), p.QoS));
            }

            Assert.Equal([(topic + "/1", "q1", MqttQoS.AtLeastOnce), (topic + "/2", "q2", MqttQoS.ExactlyOnce), (topic + "/config", "retained", MqttQoS.AtLeastOnce)], received);
            await device.ExpectNoPacketAsync();

            // The subscription is back too: a new message reaches it at once.
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic + "/3", "live", MqttQoS.AtLeastOnce);
            Assert.Equal("live", (await device.ReceivePublishAsync()).PayloadText());

            // And a new subscriber gets the retained message.
            await using var late = await broker.ConnectAsync(TestIds.Client("late"));
            await late.SubscribeGrantedAsync(topic + "/config", MqttQoS.AtLeastOnce);
            var retained = await late.ReceivePublishAsync();
            Assert.Equal(("retained", true), (retained.PayloadText(), retained.Retain));
        }
    }

    [Fact]
    public async Task A_message_in_flight_is_resent_with_its_packet_id_and_dup_after_a_restart()
    {
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        ushort packetId;
        await using (var broker = await StartAsync())
        {
            await using var device = await broker.ConnectAsync(id, cleanSession: false);
            await device.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic, "unacknowledged", MqttQoS.AtLeastOnce);
            var first = await device.ReceivePublishAsync(ack: false);
            packetId = first.PacketId;
        }

        await using (var broker = await StartAsync())
        {
            await using var device = await broker.OpenRawAsync();
            Assert.True((await device.ConnectAsync(id, cleanSession: false)).SessionPresent);
            var again = await device.ReceivePublishAsync();
            Assert.Equal(("unacknowledged", packetId, true), (again.PayloadText(), again.PacketId, again.Dup));

            // Closing the socket with the PUBACK still unread would lose it: wait until the broker has it.
            Assert.True(broker.Server.Broker.Sessions.TryGet(id, out var session));
            await TestWait.UntilAsync(() => session!.InflightMessages == 0, "the PUBACK to reach the broker");
        }

        // Acknowledged now: a third start has nothing left to send.
        await using (var broker = await StartAsync())
        {
            await using var device = await broker.OpenRawAsync();
            Assert.True((await device.ConnectAsync(id, cleanSession: false)).SessionPresent);
            await device.ExpectNoPacketAsync();
        }
    }

    [Fact]
    public async Task An_old_message_acknowledged_together_with_new_ones_is_gone_after_a_restart_and_the_unacknowledged_one_is_back()
    {
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var broker = await StartAsync())
        {
            await using var device = await broker.ConnectAsync(id, cleanSession: false);
            await device.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic, "old", MqttQoS.AtLeastOnce);
            var old = await device.ReceivePublishAsync(ack: false);

            // Hundreds of messages later (each delivered and acknowledged) the old one is acknowledged
            // in the same write as a new message the device publishes to itself: one batch then
            // changes deliveries whose places in the session lie far apart.
            for (var i = 0; i < 300; i++)
            {
                await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
                Assert.Equal($"m{i}", (await device.ReceivePublishAsync()).PayloadText());
            }

            var publish = new PublishPacket { Topic = topic, Payload = "new"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = device.NextPacketId() };
            await device.SendRawAsync([.. MqttEncoder.ToArray(new PubAckPacket { PacketId = old.PacketId }, device.Version), .. MqttEncoder.ToArray(publish, device.Version)]);

            // Its PUBACK waits for the commit, its delivery need not: either may come first.
            var answers = new[] { await device.ReceiveAnyAsync(), await device.ReceiveAnyAsync() };
            Assert.Contains(answers, p => p is PubAckPacket ack && ack.PacketId == publish.PacketId);
            Assert.Contains(answers, p => p is PublishPacket delivered && delivered.PayloadText() == "new");
        }

        await using (var broker = await StartAsync())
        {
            await using var device = await broker.OpenRawAsync();
            Assert.True((await device.ConnectAsync(id, cleanSession: false)).SessionPresent);
            var again = await device.ReceivePublishAsync();
            Assert.Equal(("new", true), (again.PayloadText(), again.Dup));
            await device.ExpectNoPacketAsync();
        }
    }

    [Fact]
    public async Task A_qos2_publish_awaiting_pubrel_is_routed_once_across_a_restart()
    {
        var publisherId = TestIds.Client("pub");
        var topic = TestIds.Topic();
        var subscriberId = TestIds.Client("sub");
        ushort packetId;
        await using (var broker = await StartAsync())
        {
            await broker.LeaveOfflineAsync(subscriberId, topic, MqttQoS.ExactlyOnce);
            await using var publisher = await broker.ConnectAsync(publisherId, cleanSession: false);
            packetId = publisher.NextPacketId();
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "once"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = packetId });
            Assert.Equal(packetId, (await publisher.ReceiveAckAsync<PubRecPacket>()).PacketId);
        }

        await using (var broker = await StartAsync())
        {
            // The publisher did not see PUBCOMP: it sends the PUBLISH again (DUP), then PUBREL.
            await using var publisher = await broker.OpenRawAsync();
            Assert.True((await publisher.ConnectAsync(publisherId, cleanSession: false)).SessionPresent);
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "once"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = packetId, Dup = true });
            Assert.Equal(packetId, (await publisher.ReceiveAckAsync<PubRecPacket>()).PacketId);
            await publisher.SendAsync(new PubRelPacket { PacketId = packetId });
            Assert.Equal(packetId, (await publisher.ReceiveAckAsync<PubCompPacket>()).PacketId);

            await using var subscriber = await broker.OpenRawAsync();
            Assert.True((await subscriber.ConnectAsync(subscriberId, cleanSession: false)).SessionPresent);
            var message = await subscriber.ReceivePublishAsync();
            Assert.Equal("once", message.PayloadText());
            await subscriber.ExpectNoPacketAsync();
        }
    }

    [Theory]
    [InlineData(30, true)]
    [InlineData(90, false)]
    public async Task Session_expiry_counts_while_the_broker_is_down(int downSeconds, bool present)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var id = TestIds.Client();
        await using (var broker = await StartAsync(time))
        {
            await using var device = await broker.ConnectV5Async(id, new MqttProperties { SessionExpiryInterval = 60 }, cleanStart: false);
            await device.SendAsync(new DisconnectPacket());
            await device.WaitForCloseAsync();
        }

        time.Advance(TimeSpan.FromSeconds(downSeconds));
        await using (var broker = await StartAsync(time))
        {
            var (device, connAck) = await broker.OpenV5Async(id, cleanStart: false);
            await using (device)
            {
                Assert.Equal(present, connAck.SessionPresent);
            }
        }
    }

    [Theory]
    [InlineData(120, 3600, true)]   // the session ended while the broker was down: its will is due at once
    [InlineData(30, 60, false)]     // the will delay has 30 s left when the broker starts
    public async Task A_delayed_will_is_published_on_time_across_a_restart(int downSeconds, uint willDelay, bool dueAtStart)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var broker = await StartAsync(time))
        {
            var will = PacketExtensions.Will(topic, "offline", MqttQoS.AtLeastOnce, retain: true) with { Properties = new MqttProperties { WillDelayInterval = willDelay } };
            var device = await broker.ConnectV5Async(id, new MqttProperties { SessionExpiryInterval = 60 }, cleanStart: false, will: will);

            // Gone without DISCONNECT: the will waits for its delay (or the session's end).
            await device.AbortAsync();
            await TestWait.UntilAsync(() => broker.Server.Broker.FindClient(id) is { Connected: false }, "the broker saw the connection end");
        }

        time.Advance(TimeSpan.FromSeconds(downSeconds));
        await using (var broker = await StartAsync(time))
        {
            await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
            await watcher.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            if (!dueAtStart)
            {
                // Not due yet: nothing retained, until the rest of the delay passes on the broker's clock.
                await watcher.ExpectNoPacketAsync();
                time.Advance(TimeSpan.FromSeconds(31));
            }

            var published = await watcher.ReceivePublishAsync();
            Assert.Equal((topic, "offline"), (published.Topic, published.PayloadText()));
        }
    }

    [Fact]
    public async Task Bans_added_at_run_time_survive_a_restart_and_removed_or_expired_ones_do_not()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var banned = TestIds.Client("banned");
        var unbanned = TestIds.Client("unbanned");
        var shortBan = TestIds.Client("short");
        await using (var broker = await StartAsync(time))
        {
            var bans = broker.Server.Broker.Bans;
            bans.Add(new Ban(BanKind.ClientId, banned, null, "operator"));
            bans.Add(new Ban(BanKind.ClientId, unbanned, null, "operator"));
            bans.Add(new Ban(BanKind.ClientId, shortBan, time.GetUtcNow().AddSeconds(30), "flapping"));
            Assert.True(bans.Remove(BanKind.ClientId, unbanned));
        }

        time.Advance(TimeSpan.FromSeconds(60));
        await using (var broker = await StartAsync(time))
        {
            await using var refused = await broker.OpenRawAsync();
            Assert.NotEqual(0, (await refused.ConnectAsync(banned)).ReasonCode);
            await using var welcome = await broker.OpenRawAsync();
            Assert.Equal(0, (await welcome.ConnectAsync(unbanned)).ReasonCode);
            await using var expired = await broker.OpenRawAsync();
            Assert.Equal(0, (await expired.ConnectAsync(shortBan)).ReasonCode);
        }
    }

    [Fact]
    public async Task Retained_messages_over_a_lowered_limit_are_counted_when_the_broker_starts()
    {
        var topic = TestIds.Topic();
        await using (var broker = await StartAsync())
        {
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            for (var i = 0; i < 5; i++)
            {
                await publisher.PublishAsync($"{topic}/{i}", $"r{i}", MqttQoS.AtLeastOnce, retain: true);
            }
        }

        await using (var broker = await StartAsync(maxRetained: 3))
        {
            Assert.Equal(3, broker.Server.Broker.RetainedCount);
            Assert.Equal(2, broker.Server.Broker.Statistics.Dropped(DropReason.RetainedStoreFull));
        }
    }

    [Fact]
    public async Task Clean_sessions_cost_no_disk_write()
    {
        await using var broker = await StartAsync();
        var store = broker.Server.Broker.Store!;
        var before = store.RowsWritten;
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        for (var i = 0; i < 20; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", i % 2 == 0 ? MqttQoS.AtLeastOnce : MqttQoS.ExactlyOnce);
            await subscriber.ReceivePublishAsync();
        }

        Assert.Equal(before, store.RowsWritten);
    }
}
