using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Reliability;

/// <summary>Takeover of a session and the write deadline, through the real broker.</summary>
public sealed class TakeoverTests
{
    [Fact]
    public async Task A_resumed_shared_member_keeps_its_unacknowledged_QoS2_message_and_nobody_else_gets_it()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var group = $"$share/g/{topic}";
        var memberId = TestIds.Client("member");

        // The member gets a QoS 2 message through the group and does not answer it yet.
        var first = await broker.ConnectV5Async(memberId, new MqttProperties { SessionExpiryInterval = 60 });
        await first.SubscribeV5GrantedAsync(group, MqttQoS.ExactlyOnce);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishV5Async(topic, "exactly once", MqttQoS.ExactlyOnce);
        var original = await first.ReceivePublishAsync(ack: false);

        // Another member joins; then the first member's device reconnects (takeover, session resumed).
        await using var other = await broker.ConnectV5Async(TestIds.Client("other"));
        await other.SubscribeV5GrantedAsync(group, MqttQoS.ExactlyOnce);
        await using var resumed = await broker.OpenRawAsync();
        var connAck = await resumed.ConnectV5Async(memberId, new MqttProperties { SessionExpiryInterval = 60 }, cleanStart: false);
        Assert.True(connAck.SessionPresent);
        var again = await resumed.ReceiveAsync<PublishPacket>();
        Assert.True(again.Dup);
        Assert.Equal(original.PacketId, again.PacketId);

        // The old connection is told and closed; once the broker has settled it, the session's
        // in-flight message is still the resumed connection's. Before, the old connection's end
        // took it out of the session and gave it to the other member: delivered twice, and the
        // resumed connection's PUBREC got 0x92 (packet identifier not found).
        await first.ExpectDisconnectAsync(ReasonCode.SessionTakenOver);
        await first.DisposeAsync();
        await WaitUntilAsync(() => broker.Server.Broker.ConnectedClients == 3 && CountConnections(broker) == 3);

        await resumed.SendAsync(new PubRecPacket { PacketId = again.PacketId });
        var rel = await resumed.ReceiveAckAsync<PubRelPacket>();
        Assert.Equal(ReasonCode.Success, rel.ReasonCode);
        await resumed.SendAsync(new PubCompPacket { PacketId = again.PacketId });

        await other.PingAsync();
        await other.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task A_subscriber_whose_socket_takes_nothing_is_closed_at_the_write_deadline_and_counted()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:WriteTimeoutSeconds"] = "30" }, time: time);
        var topic = TestIds.Topic();
        await using var stuck = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await stuck.ConnectAsync(TestIds.Client("stuck"), cleanSession: false)).ReasonCode);
        await stuck.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        stuck.PauseReading();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // Publish until the broker's writer for the stuck subscriber waits on its socket.
        var payload = new byte[64 * 1024];
        var connection = broker.Server.Broker.Connections.Single(c => c.ClientId == stuck.Name);
        using (var bound = new CancellationTokenSource(TestTimeouts.External))
        {
            while (connection.FlushStalledSince == 0)
            {
                await publisher.PublishAsync(topic, payload, MqttQoS.AtMostOnce);
                await publisher.PingAsync();
                bound.Token.ThrowIfCancellationRequested();
            }
        }

        time.Advance(TimeSpan.FromSeconds(29));
        await publisher.PingAsync();
        Assert.Equal(0, broker.Server.Broker.Statistics.SlowConsumersClosed);

        time.Advance(TimeSpan.FromSeconds(2));
        await WaitUntilAsync(() => CountConnections(broker) == 1);
        Assert.Equal(1, broker.Server.Broker.Statistics.SlowConsumersClosed);

        // Its persistent session stays, offline.
        Assert.True(broker.Server.Broker.Sessions.TryGet(stuck.Name, out var session));
        Assert.False(session!.IsOnline);
        await BrokerHealth.AssertServesAsync(broker, publisher);
    }

    private static int CountConnections(TestBroker broker) => broker.Server.Broker.Connections.Count();

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.External);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
