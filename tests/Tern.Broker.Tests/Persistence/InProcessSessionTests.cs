using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Persistence;

/// <summary>
/// In-process sessions (<see cref="MqttBroker.OpenInProcessSession"/>), which bridges take their
/// messages from when the broker has a store: kept across restarts, taken in order, completed only
/// when the consumer says so, bounded with the reason it is given, expired messages dropped.
/// </summary>
public sealed class InProcessSessionTests : IDisposable
{
    private const string SessionId = "$bridge/test";
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-inprocess-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Messages_wait_in_the_store_across_restarts_and_leave_only_when_completed()
    {
        await using (var broker = await StartAsync())
        {
            using var session = Open(broker);
            for (var i = 1; i <= 3; i++)
            {
                Publish(broker, "t/a", $"m{i}", MqttQoS.AtLeastOnce);
            }

            // Taken and not completed: still the session's.
            Assert.True(session.TryTake(out var first, out var id));
            Assert.Equal(("t/a", "m1", MqttQoS.AtLeastOnce), (first.Topic, Text(first), first.QoS));
            Assert.NotEqual(0, id);
            Assert.Equal(3, session.Count);
        }

        await using (var broker = await StartAsync())
        {
            using var session = Open(broker);
            Assert.Equal(3, session.Count);

            // The one taken before comes first, then the queue, in order.
            var taken = new List<string>();
            while (session.TryTake(out var message, out var id))
            {
                taken.Add(Text(message));
                session.Complete(id);
            }

            Assert.Equal(["m1", "m2", "m3"], taken);
            Assert.Equal(0, session.Count);
        }

        await using (var broker = await StartAsync())
        {
            using var session = Open(broker);
            Assert.Equal(0, session.Count);
            Assert.False(session.TryTake(out _, out _));
        }
    }

    [Fact]
    public async Task QoS_0_messages_queue_too_and_leave_as_they_are_taken()
    {
        await using var broker = await StartAsync();
        using var session = Open(broker);
        Publish(broker, "t/zero", "z", MqttQoS.AtMostOnce);
        Assert.Equal(1, session.Count);
        Assert.True(session.TryTake(out var message, out var id));
        Assert.Equal((MqttQoS.AtMostOnce, 0), (message.QoS, id));
        Assert.Equal(0, session.Count);
    }

    [Fact]
    public async Task A_full_session_drops_new_messages_counted_with_its_reason()
    {
        await using var broker = await StartAsync();
        using var session = Open(broker, maxQueued: 2);
        for (var i = 0; i < 5; i++)
        {
            Publish(broker, "t/full", $"m{i}", MqttQoS.AtLeastOnce);
        }

        // Taken but not completed counts against the bound too.
        Assert.True(session.TryTake(out _, out _));
        Publish(broker, "t/full", "m5", MqttQoS.AtLeastOnce);
        Assert.Equal(2, session.Count);
        Assert.Equal(4, session.DroppedFor(DropReason.BridgeQueueFull));
        Assert.Equal(4, broker.Server.Broker.GetSnapshot().Dropped[DropReason.BridgeQueueFull]);
    }

    [Fact]
    public async Task An_expired_message_is_dropped_and_the_rest_carry_what_remains_of_their_expiry()
    {
        var time = new FakeTimeProvider();
        await using var broker = await StartAsync(time);
        using var session = Open(broker);
        broker.Server.Broker.Publish("t/e", "short"u8.ToArray(), MqttQoS.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 10 });
        broker.Server.Broker.Publish("t/e", "long"u8.ToArray(), MqttQoS.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 100 });
        time.Advance(TimeSpan.FromSeconds(20));

        Assert.True(session.TryTake(out var message, out _));
        Assert.Equal("long", Text(message));
        Assert.Equal(80u, message.Properties?.MessageExpiryInterval);
        Assert.False(session.TryTake(out _, out _));
        Assert.Equal(1, session.DroppedFor(DropReason.Expired));
    }

    [Fact]
    public async Task What_the_consumer_publishes_with_the_session_as_origin_does_not_come_back_to_it()
    {
        await using var broker = await StartAsync();
        using var session = Open(broker);
        broker.Server.Broker.Publish("t/in", "from-remote"u8.ToArray(), MqttQoS.AtLeastOnce, retain: false, properties: null, origin: SessionId);
        Publish(broker, "t/in", "local", MqttQoS.AtLeastOnce);
        Assert.True(session.TryTake(out var message, out _));
        Assert.Equal("local", Text(message));
        Assert.False(session.TryTake(out _, out _));
    }

    [Fact]
    public async Task A_client_cannot_connect_with_the_client_id_of_an_in_process_session()
    {
        await using var broker = await StartAsync();
        using var session = Open(broker);
        await using var client = await broker.OpenRawAsync();
        var connAck = await client.ConnectAsync(SessionId, cleanSession: false);
        Assert.Equal((byte)ConnectReturnCode.IdentifierRejected, connAck.ReasonCode);

        // Nor end it as an operator would end an offline session.
        Assert.False(broker.Server.Broker.DiscardSession(SessionId));
        Publish(broker, "t/still", "here", MqttQoS.AtLeastOnce);
        Assert.Equal(1, session.Count);
    }

    private static InProcessSession Open(TestBroker broker, int maxQueued = 100)
        => broker.Server.Broker.OpenInProcessSession(
            SessionId,
            [new TopicSubscription("t/#", new SubscriptionOptions(MqttQoS.ExactlyOnce, NoLocal: true, RetainAsPublished: true))],
            maxQueued,
            DropReason.BridgeQueueFull,
            () => { });

    private static void Publish(TestBroker broker, string topic, string payload, MqttQoS qos)
        => broker.Server.Broker.Publish(topic, Encoding.UTF8.GetBytes(payload), qos);

    private static string Text(InProcessMessage message) => Encoding.UTF8.GetString(message.Payload.Span);

    private Task<TestBroker> StartAsync(TimeProvider? time = null) => TestBroker.StartAsync(
        new Dictionary<string, string?>
        {
            ["Persistence:Mode"] = "durable",
            ["Persistence:Directory"] = _directory,
            ["Broker:SysIntervalSeconds"] = "0",
        },
        time: time);
}
