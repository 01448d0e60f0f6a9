using System.Diagnostics;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.KeepAlive;

/// <summary>Keep alive (spec 3.1.2.10) and PINGREQ/PINGRESP (3.12, 3.13).</summary>
public sealed class KeepAliveTests
{
    [Fact]
    public async Task Mqtt_3_12_4_1_PingReqIsAnsweredWithPingResp()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());

        await client.SendAsync(PingReqPacket.Instance);

        await client.ReceiveAsync<PingRespPacket>();
    }

    [Fact]
    public async Task Mqtt_3_1_2_24_SilentClientIsClosedAfterOneAndAHalfKeepAlive()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();
        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(0, (await client.ConnectAsync(TestIds.Client(), keepAlive: 1)).ReasonCode);

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(6)), "a client silent for more than 1.5 × keep alive must be closed\n" + client.Transcript);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1), $"closed after {stopwatch.Elapsed.TotalMilliseconds:0} ms; the keep alive is 1 s and the limit 1.5 s");
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_3_1_2_23_PingsKeepAConnectionAlive()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client(), keepAlive: 2);

        // 4 s in total, past the 3 s limit; each 500 ms silence is also an absence check. The
        // limit leaves 2.5 s for a ping delayed on a busy machine.
        for (var i = 0; i < 8; i++)
        {
            await client.ExpectNoPacketAsync(TimeSpan.FromMilliseconds(500));
            await client.PingAsync();
        }

        Assert.False(client.IsClosed);
    }

    [Fact]
    public async Task Mqtt_3_1_2_23_AnyControlPacketCountsAsActivity()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var client = await broker.ConnectAsync(TestIds.Client(), keepAlive: 2);

        for (var i = 0; i < 8; i++)
        {
            await client.ExpectNoPacketAsync(TimeSpan.FromMilliseconds(500));
            await client.PublishAsync(topic, "activity", MqttQoS.AtMostOnce);
        }

        await client.PingAsync();
    }
}
