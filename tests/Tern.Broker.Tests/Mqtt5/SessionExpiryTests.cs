using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Session expiry interval (spec 3.1.2.11.2, 3.14.2.2.2): how long a session outlives its connection.</summary>
public sealed class SessionExpiryTests
{
    private static MqttProperties Expiry(uint seconds) => new() { SessionExpiryInterval = seconds };

    /// <summary>Connects with <paramref name="expiry"/>, subscribes at QoS 1 and disconnects normally.</summary>
    private static async Task<string> LeaveSubscribedAsync(TestBroker broker, string topic, uint expiry)
    {
        var id = TestIds.Client("se");
        await using var client = await broker.ConnectV5Async(id, Expiry(expiry));
        await client.SubscribeV5GrantedAsync(topic);
        await client.DisconnectAsync();
        return id;
    }

    private static async Task PublishAsync(TestBroker broker, string topic, string payload, MqttProperties? properties = null)
    {
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishQoS1V5Async(topic, payload, properties);
    }

    [Fact]
    public async Task Expiry0_SessionEndsAtDisconnect()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var id = await LeaveSubscribedAsync(broker, topic, 0);
        await PublishAsync(broker, topic, "lost");

        var (client, connAck) = await broker.OpenV5Async(id, Expiry(10), cleanStart: false);
        await using var _ = client;
        Assert.False(connAck.SessionPresent, Describe(connAck));
        await client.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task ExpiryN_SubscriptionsAndQueuedMessagesSurviveWithinTheInterval()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var id = await LeaveSubscribedAsync(broker, topic, 60);
        await PublishAsync(broker, topic, "queued 1");
        await PublishAsync(broker, topic, "queued 2");

        var (client, connAck) = await broker.OpenV5Async(id, Expiry(0), cleanStart: false);
        await using var _ = client;
        Assert.True(connAck.SessionPresent, Describe(connAck));
        await client.ExpectPublishAsync(topic, "queued 1");
        await client.ExpectPublishAsync(topic, "queued 2");

        // The subscription itself survived too.
        await PublishAsync(broker, topic, "live");
        await client.ExpectPublishAsync(topic, "live");
    }

    [Fact]
    public async Task ExpiryN_SessionIsGoneAfterTheInterval()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        var id = await LeaveSubscribedAsync(broker, topic, 1);
        await PublishAsync(broker, topic, "expires with the session");

        time.Advance(TimeSpan.FromSeconds(1.8)); // the broker's clock: waiting out the 1 s session expiry is the point of this test

        var (client, connAck) = await broker.OpenV5Async(id, cleanStart: false);
        await using var _ = client;
        Assert.False(connAck.SessionPresent, "session expiry 1 s passed: " + Describe(connAck));
        await client.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task ExpiryMax_SessionIsKept()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var id = await LeaveSubscribedAsync(broker, topic, uint.MaxValue);
        await PublishAsync(broker, topic, "kept");

        var (client, connAck) = await broker.OpenV5Async(id, cleanStart: false);
        await using var _ = client;
        Assert.True(connAck.SessionPresent, Describe(connAck));
        await client.ExpectPublishAsync(topic, "kept");
    }

    [Fact]
    public async Task CleanStart1_DiscardsAnExistingSession()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var id = await LeaveSubscribedAsync(broker, topic, 60);
        await PublishAsync(broker, topic, "discarded");

        var (client, connAck) = await broker.OpenV5Async(id, Expiry(60), cleanStart: true);
        await using var _ = client;
        Assert.False(connAck.SessionPresent, Describe(connAck));
        await client.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task DisconnectWithExpiry0_EndsASessionThatHadAnInterval()
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client("se");
        await using (var first = await broker.ConnectV5Async(id, Expiry(60)))
        {
            await first.SubscribeV5GrantedAsync(topic);
            await first.SendAsync(new DisconnectPacket { Properties = Expiry(0) });
            Assert.True(await first.WaitForCloseAsync(), first.Transcript);
        }

        var (client, connAck) = await broker.OpenV5Async(id, cleanStart: false);
        await using var _ = client;
        Assert.False(connAck.SessionPresent, "DISCONNECT set session expiry 0: " + Describe(connAck));
    }

    [Fact]
    public async Task DisconnectWithLongerExpiry_KeepsTheSession()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        var id = TestIds.Client("se");
        await using (var first = await broker.ConnectV5Async(id, Expiry(1)))
        {
            await first.SubscribeV5GrantedAsync(topic);
            await first.SendAsync(new DisconnectPacket { Properties = Expiry(60) });
            Assert.True(await first.WaitForCloseAsync(), first.Transcript);
        }

        time.Advance(TimeSpan.FromSeconds(1.6)); // the broker's clock: past the CONNECT's 1 s, within the DISCONNECT's 60 s
        await PublishAsync(broker, topic, "still subscribed");

        var (client, connAck) = await broker.OpenV5Async(id, cleanStart: false);
        await using var _ = client;
        Assert.True(connAck.SessionPresent, "DISCONNECT raised session expiry to 60 s: " + Describe(connAck));
        await client.ExpectPublishAsync(topic, "still subscribed");
    }

    [Fact]
    public async Task DisconnectSettingExpiryAfterZeroOnConnect_IsProtocolError82()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("se"), Expiry(0));

        await client.SendAsync(new DisconnectPacket { Properties = Expiry(30) });

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.ProtocolError);
        AssertHasReasonString(disconnect, client);
    }
}
