using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Connections;

/// <summary>
/// An idle connection's writer returns after a timer tick with nothing to send (no frame at rest);
/// the next packet for it, and the close, start a new one that sends what was queued.
/// </summary>
public sealed class WriterParkingTests
{
    [Fact]
    public async Task An_idle_writer_parks_and_the_next_message_and_the_close_each_start_one_that_sends()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var topic = TestIds.Topic();
        await using var subscriber = await RawMqttClient.OpenAsync(broker.Port);
        Assert.Equal(0, (await subscriber.ConnectAsync(TestIds.Client("idle-sub"), version: MqttProtocolVersion.V500)).ReasonCode);
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var connection = broker.Server.Broker.Connections.Single(c => c.ClientId == subscriber.Name);

        for (var round = 0; round < 3; round++)
        {
            await ParkAsync(time, connection);
            await publisher.PublishAsync(topic, $"after idle {round}", MqttQoS.AtLeastOnce);
            var received = await subscriber.ReceivePublishAsync();
            Assert.Equal($"after idle {round}", received.PayloadText());
            Assert.False(connection.WriterParked);
        }

        // Parked when the broker ends the connection: a new writer still sends the DISCONNECT.
        await ParkAsync(time, connection);
        Assert.True(broker.Server.Broker.DisconnectClient(subscriber.Name));
        var disconnect = await subscriber.ReceiveAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.AdministrativeAction, disconnect.ReasonCode);
        await BrokerHealth.AssertServesAsync(broker, publisher);
    }

    /// <summary>Moves the broker's clock tick by tick until the connection's writer has parked.</summary>
    private static async Task ParkAsync(FakeTimeProvider time, MqttConnection connection)
    {
        await TestWait.UntilAsync(
            () =>
            {
                time.Advance(TimeSpan.FromMilliseconds(250));
                return connection.WriterParked;
            },
            "the idle subscriber's writer to park");
    }
}
