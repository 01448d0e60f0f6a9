using Tern.Broker.Persistence;
using Tern.Protocol;
using Tern.Server.Persistence;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Broker.Tests.Persistence;

/// <summary>
/// A store that stops writing while the broker runs (a full disk): nothing is acknowledged that was
/// not stored, QoS 1/2 publishes that need the store are refused (MQTT 5: 0x97; MQTT 3.1.1: the
/// connection is closed) and counted, clean sessions go on, the failure is logged once, and nothing hangs.
/// </summary>
public sealed class StoreFailureTests : IDisposable
{
    private static readonly MqttProperties Persistent = new() { SessionExpiryInterval = 3600 };

    private readonly string _directory = Directory.CreateTempSubdirectory("tern-store-failure-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Mqtt5_publishes_that_need_a_failed_store_are_refused_with_0x97_and_never_delivered()
    {
        var store = new FailingStore(Path.Combine(_directory, "tern.db"));
        await using var broker = await TestBroker.StartAsync(store: store);
        var statistics = broker.Server.Broker.Statistics;
        var topic = TestIds.Topic();

        // The disk fills up while a persistent session is offline (see FailStoreAsync): the first
        // publish after it waits on the batch that fails and its connection is closed (DISCONNECT 0x80).
        var deviceId = await FailStoreAsync(broker, store, topic);

        // From then on the broker knows: QoS 1 gets PUBACK 0x97, QoS 2 PUBREC 0x97, and both are counted.
        await using var again = await broker.ConnectV5Async(TestIds.Client("pub"));
        Assert.Equal(ReasonCode.QuotaExceeded, (await again.PublishQoS1V5Async(topic, "refused 1")).ReasonCode);
        var id = await again.SendPublishV5Async(topic, "refused 2", MqttQoS.ExactlyOnce);
        var rec = await again.ReceiveAckAsync<PubRecPacket>();
        Assert.Equal((id, ReasonCode.QuotaExceeded), (rec.PacketId, rec.ReasonCode));
        Assert.Equal(2, statistics.Dropped(DropReason.StoreFailed));

        // The QoS 2 exchange ended with the failed PUBREC [MQTT-4.3.3-4]: the same id is free for a new
        // message, which is refused again rather than taken for a resend.
        await again.SendAsync(new PublishPacket { Topic = topic, Payload = "refused 3"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = id });
        Assert.Equal(ReasonCode.QuotaExceeded, (await again.ReceiveAckAsync<PubRecPacket>()).ReasonCode);
        Assert.Equal(3, statistics.Dropped(DropReason.StoreFailed));

        // The subscriber gets what was routed before the failure was known, and none of the refused
        // messages: a 0x97 means nobody took it.
        await using var back = await broker.ConnectV5Async(deviceId, Persistent, cleanStart: false);
        await back.ExpectPublishAsync(topic, "stored");
        await back.ExpectPublishAsync(topic, "unconfirmed");
        await back.ExpectNoPacketAsync();

        // One write was tried and failed; nothing more is written until a restart. No protocol error.
        Assert.Equal(1, store.FailedWrites);
        Assert.Equal(0, statistics.ProtocolErrors);
    }

    [Fact]
    public async Task Mqtt311_publishers_are_disconnected_instead_of_acknowledged_when_the_store_fails()
    {
        var store = new FailingStore(Path.Combine(_directory, "tern.db"));
        await using var broker = await TestBroker.StartAsync(store: store);
        var statistics = broker.Server.Broker.Statistics;
        var topic = TestIds.Topic();
        await broker.LeaveOfflineAsync(TestIds.Client("device"), topic, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "stored", MqttQoS.AtLeastOnce);

        // Waiting on the batch that fails: closed, no PUBACK.
        store.Fail();
        await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "unconfirmed"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = publisher.NextPacketId() });
        await ExpectClosedWithoutAnswerAsync(publisher);

        // Refused once the failure is known: MQTT 3.1.1 has no negative acknowledgement, so closed too.
        foreach (var qos in new[] { MqttQoS.AtLeastOnce, MqttQoS.ExactlyOnce })
        {
            await using var next = await broker.ConnectAsync(TestIds.Client("pub"));
            await next.SendAsync(new PublishPacket { Topic = topic, Payload = "refused"u8.ToArray(), QoS = qos, PacketId = next.NextPacketId() });
            await ExpectClosedWithoutAnswerAsync(next);
        }

        Assert.Equal(2, statistics.Dropped(DropReason.StoreFailed));

        // The client did nothing wrong: not a protocol error.
        Assert.Equal(0, statistics.ProtocolErrors);
        Assert.Equal(1, store.FailedWrites);
    }

    [Fact]
    public async Task Clean_sessions_keep_getting_qos0_and_qos1_messages_after_the_store_failed()
    {
        var store = new FailingStore(Path.Combine(_directory, "tern.db"));
        await using var broker = await TestBroker.StartAsync(store: store);
        var statistics = broker.Server.Broker.Statistics;
        var topic = TestIds.Topic();
        await FailStoreAsync(broker, store, topic + "/stored");
        Assert.NotNull(broker.Server.Broker.GetStoreSnapshot()!.Failure);

        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic + "/clean", MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic + "/clean", "qos0");
        await publisher.PublishAsync(topic + "/clean", "qos1", MqttQoS.AtLeastOnce);
        Assert.Equal(("qos0", MqttQoS.AtMostOnce), Describe(await subscriber.ReceivePublishAsync()));
        Assert.Equal(("qos1", MqttQoS.AtLeastOnce), Describe(await subscriber.ReceivePublishAsync()));

        // QoS 0 needs no store, even to a topic a persistent session subscribed to.
        await subscriber.SubscribeGrantedAsync(topic + "/stored", MqttQoS.AtLeastOnce);
        await publisher.PublishAsync(topic + "/stored", "qos0 to a stored topic");
        Assert.Equal(("qos0 to a stored topic", MqttQoS.AtMostOnce), Describe(await subscriber.ReceivePublishAsync()));
        Assert.Equal(0, statistics.Dropped(DropReason.StoreFailed));
    }

    [Fact]
    public async Task The_failure_is_logged_once_with_the_store_path_and_the_broker_still_stops()
    {
        var path = Path.Combine(_directory, "tern.db");
        var store = new FailingStore(path);
        LogCapture? log = null;

        // Written before the failure and not flushed yet: the writer flushes once more when it stops.
        var broker = await TestBroker.StartAsync(
            new Dictionary<string, string?> { ["Persistence:FlushIntervalMs"] = "60000" },
            beforeStart: server => log = LogCapture.Attach(server),
            store: store);
        try
        {
            var topic = TestIds.Topic();
            await FailStoreAsync(broker, store, topic);
            var line = await log!.WaitForAsync(l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal));
            Assert.Contains("No space left on device", line, StringComparison.Ordinal);

            // More work that the store would take: refused publishes, a retained message, a new
            // persistent session and its subscription.
            await using (var publisher = await broker.ConnectV5Async(TestIds.Client("pub")))
            {
                for (var i = 0; i < 3; i++)
                {
                    Assert.Equal(ReasonCode.QuotaExceeded, (await publisher.PublishQoS1V5Async(topic, $"refused {i}")).ReasonCode);
                }

                Assert.Equal(ReasonCode.QuotaExceeded, (await publisher.PublishQoS1V5Async(topic + "/config", "retained", retain: true)).ReasonCode);
            }

            await using (var late = await broker.ConnectV5Async(TestIds.Client("late"), Persistent))
            {
                // Its SUBACK would confirm a subscription the store does not have: withheld, the connection closed.
                await late.SendAsync(new SubscribePacket { PacketId = late.NextPacketId(), Subscriptions = [new TopicSubscription(topic + "/late", new SubscriptionOptions(MqttQoS.AtLeastOnce))] });
                await late.ExpectDisconnectAsync(ReasonCode.UnspecifiedError);
            }
        }
        finally
        {
            // A failed store does not hold up the shutdown: the writer ends and the store is closed.
            await broker.Server.StopAsync().WaitAsync(TestTimeouts.BrokerStop);
            Assert.True(store.Disposed, "the broker closes its store when it stops");
            await broker.DisposeAsync();
        }

        // The flush on the way out failed too; still one line.
        Assert.Equal(1, store.FailedFlushes);
        Assert.Single(log.Lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_flush_that_fails_is_logged_once_and_writes_go_on()
    {
        var path = Path.Combine(_directory, "tern.db");
        var store = new FailingStore(path);
        LogCapture? log = null;
        await using var broker = await TestBroker.StartAsync(
            new Dictionary<string, string?> { ["Persistence:FlushIntervalMs"] = "10" },
            beforeStart: server => log = LogCapture.Attach(server),
            store: store);
        var topic = TestIds.Topic();
        await broker.LeaveOfflineAsync(TestIds.Client("device"), topic);
        store.FailFlushes();

        // Each stored message is a write, followed by a flush within 10 ms, which fails.
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        for (var i = 0; i < 3; i++)
        {
            var failed = store.FailedFlushes;
            Assert.Equal(ReasonCode.Success, (await publisher.PublishQoS1V5Async(topic, $"stored {i}")).ReasonCode);
            await TestWait.UntilAsync(() => store.FailedFlushes > failed, "a flush after the write");
        }

        Assert.Equal(0, store.FailedWrites);
        Assert.Null(broker.Server.Broker.GetStoreSnapshot()!.Failure);
        var line = Assert.Single(log!.Lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal));
        Assert.Contains("cannot sync to disk: No space left on device", line, StringComparison.Ordinal);
    }

    /// <summary>
    /// Leaves a persistent session (its id returned) subscribed to <paramref name="topic"/>; a message
    /// to it is stored and acknowledged; then the disk fills up. The next publish is routed before
    /// anyone knows: its PUBACK waits on the batch that fails, so it never comes, and the connection is
    /// closed instead (DISCONNECT 0x80).
    /// </summary>
    private static async Task<string> FailStoreAsync(TestBroker broker, FailingStore store, string topic)
    {
        var deviceId = TestIds.Client("device");
        await using (var device = await broker.ConnectV5Async(deviceId, Persistent))
        {
            await device.SubscribeV5GrantedAsync(topic, MqttQoS.AtLeastOnce);
            await device.DisconnectAsync();
        }

        // Acknowledged once stored: every batch before it (the session going offline) is written too.
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        Assert.Equal(ReasonCode.Success, (await publisher.PublishQoS1V5Async(topic, "stored")).ReasonCode);

        store.Fail();
        await publisher.SendPublishV5Async(topic, "unconfirmed", MqttQoS.AtLeastOnce);
        await publisher.ExpectDisconnectAsync(ReasonCode.UnspecifiedError);
        Assert.Equal(1, store.FailedWrites);
        return deviceId;
    }

    private static async Task ExpectClosedWithoutAnswerAsync(RawMqttClient client)
    {
        Assert.True(await client.WaitForCloseAsync(), $"[{client.Name}] the broker did not close the connection");
        var ended = await Assert.ThrowsAsync<MqttTestException>(() => client.ReceiveAnyAsync());
        Assert.Contains("the connection ended", ended.Message, StringComparison.Ordinal);
    }

    private static (string Payload, MqttQoS QoS) Describe(PublishPacket publish) => (publish.PayloadText(), publish.QoS);

    /// <summary>
    /// The SQLite store until <see cref="Fail"/>: from then on every write (and flush) throws what a
    /// full disk throws.
    /// </summary>
    private sealed class FailingStore(string path) : IBrokerStore
    {
        private readonly SqliteBrokerStore _inner = SqliteBrokerStore.Open(path, strict: false);
        private volatile bool _failing;
        private volatile bool _failingFlushes;
        private int _failedWrites;
        private int _failedFlushes;

        public string Location => _inner.Location;

        public long SizeBytes => _inner.SizeBytes;

        public int FailedWrites => Volatile.Read(ref _failedWrites);

        public int FailedFlushes => Volatile.Read(ref _failedFlushes);

        public bool Disposed { get; private set; }

        public void Fail() => _failing = _failingFlushes = true;

        /// <summary>Only flushes fail (a sync that fails while writes still succeed).</summary>
        public void FailFlushes() => _failingFlushes = true;

        public StoredState Load() => _inner.Load();

        public void Write(StoreBatch batch)
        {
            if (_failing)
            {
                Interlocked.Increment(ref _failedWrites);
                throw new IOException("No space left on device");
            }

            _inner.Write(batch);
        }

        public void Flush()
        {
            if (_failingFlushes)
            {
                Interlocked.Increment(ref _failedFlushes);
                throw new IOException("No space left on device");
            }

            _inner.Flush();
        }

        public void Dispose()
        {
            _inner.Dispose();
            Disposed = true;
        }
    }
}
