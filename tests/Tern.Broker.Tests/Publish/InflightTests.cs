using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Publish;

/// <summary>The per-client in-flight window (Broker:MaxInflight).</summary>
public sealed class InflightTests
{
    [Fact]
    public async Task MaxInflight_OnlyNUnacknowledgedQos1PublishesAreSentUntilAcked()
    {
        const int window = 3;
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxInflight"] = window.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        for (var i = 0; i < 6; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        var first = new List<PublishPacket>();
        for (var i = 0; i < window; i++)
        {
            first.Add(await subscriber.ReceivePublishAsync(ack: false));
        }

        Assert.Equal(["m0", "m1", "m2"], first.Select(p => p.PayloadText()));
        await subscriber.ExpectNoPacketAsync();

        await subscriber.AcknowledgeAsync(first[0]);
        var fourth = await subscriber.ReceivePublishAsync(ack: false);
        Assert.Equal("m3", fourth.PayloadText());
        await subscriber.ExpectNoPacketAsync();

        await subscriber.AcknowledgeAsync(first[1]);
        await subscriber.AcknowledgeAsync(first[2]);
        await subscriber.AcknowledgeAsync(fourth);
        Assert.Equal("m4", (await subscriber.ReceivePublishAsync()).PayloadText());
        Assert.Equal("m5", (await subscriber.ReceivePublishAsync()).PayloadText());
    }
}
