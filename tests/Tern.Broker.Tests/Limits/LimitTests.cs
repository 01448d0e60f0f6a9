using System.Diagnostics;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Limits;

/// <summary>Broker limits: each one bounds a single client and leaves the others working.</summary>
public sealed class LimitTests
{
    private static Task<TestBroker> StartAsync(params (string Key, string Value)[] settings)
        => TestBroker.StartAsync(settings.ToDictionary(s => s.Key, s => (string?)s.Value));

    [Fact]
    public async Task MaxConnections_ClosesTheConnectionAboveTheLimit()
    {
        await using var broker = await StartAsync(("Broker:MaxConnections", "2"));
        await using var first = await broker.ConnectAsync(TestIds.Client());
        await using var second = await broker.ConnectAsync(TestIds.Client());

        await using var third = await broker.OpenRawAsync();
        Assert.True(await third.WaitForCloseAsync(), "the third connection must be closed at accept\n" + third.Transcript);

        await first.DisconnectAsync();
        // The slot frees when the broker has finished with the first connection; until then a
        // new connection is closed at accept.
        await WaitUntilAsync(async () =>
        {
            await using var again = await broker.OpenRawAsync();
            try
            {
                return (await again.ConnectAsync(TestIds.Client())).ReasonCode == 0;
            }
            catch (Exception ex) when (ex is MqttTestException or IOException or TimeoutException)
            {
                return false;
            }
        });

        // The probe that just got in is closed, and its slot frees when the broker has read the close.
        await WaitUntilAsync(async () =>
        {
            try
            {
                await BrokerHealth.AssertServesAsync(broker, second);
                return true;
            }
            catch (Exception ex) when (ex is MqttTestException or IOException or TimeoutException)
            {
                return false;
            }
        });
    }

    [Fact]
    public async Task MaxConnectionsPerAddress_LimitsOneAddress()
    {
        await using var broker = await StartAsync(("Broker:MaxConnectionsPerAddress", "1"));
        await using var first = await broker.ConnectAsync(TestIds.Client());

        await using var second = await broker.OpenRawAsync();
        Assert.True(await second.WaitForCloseAsync(), second.Transcript);
        Assert.True(broker.Server.Broker.Statistics.ConnectionsRefused >= 1);
        await first.PingAsync();
    }

    [Fact]
    public async Task MaxConnectionRate_RefusesABurstAboveTheRate()
    {
        // One connection per 10 s (a burst of one): of six at once, five are refused.
        await using var broker = await StartAsync(("Broker:MaxConnectionRate", "0.1"));
        var closed = 0;
        for (var i = 0; i < 6; i++)
        {
            var client = await broker.OpenRawAsync();
            await using (client)
            {
                var connAck = client.ConnectAsync(TestIds.Client());
                if (await Task.WhenAny(connAck, client.WaitForCloseAsync()) != connAck || connAck.IsFaulted)
                {
                    closed++;
                }
            }
        }

        Assert.True(closed >= 4, $"6 connections at once with a rate of 0.1/s: expected 5 refused, {closed} were");
    }

    [Fact]
    public async Task BannedAddress_IsClosedAtAccept()
    {
        await using var broker = await StartAsync(("Broker:Bans:Addresses:0", "127.0.0.0/8"));
        await using var client = await broker.OpenRawAsync();
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, 0x05)]
    [InlineData(MqttProtocolVersion.V500, 0x8A)]
    public async Task BannedClientId_IsRefused(MqttProtocolVersion version, byte expected)
    {
        await using var broker = await StartAsync(("Broker:Bans:ClientIds:0", "evil-device"));
        await using var client = await broker.OpenRawAsync();
        var connAck = await client.ConnectAsync("evil-device", version: version);
        Assert.Equal(expected, connAck.ReasonCode);

        await using var fine = await broker.ConnectAsync(TestIds.Client());
    }

    [Fact]
    public async Task BanAddedAtRunTime_RefusesTheClient()
    {
        await using var broker = await StartAsync();
        broker.Server.Broker.Bans.Add(new Ban(BanKind.Username, "mallory", null, "test"));
        await using var client = await broker.OpenRawAsync();
        var connAck = await client.ConnectAsync(TestIds.Client(), username: "mallory", password: "x"u8.ToArray());
        Assert.Equal(0x05, connAck.ReasonCode);

        Assert.True(broker.Server.Broker.Bans.Remove(BanKind.Username, "mallory"));
        await using var again = await broker.OpenRawAsync();
        Assert.Equal(0, (await again.ConnectAsync(TestIds.Client(), username: "mallory", password: "x"u8.ToArray())).ReasonCode);
    }

    [Fact]
    public async Task FlappingClientId_IsBannedForAWhile()
    {
        await using var broker = await StartAsync(
            ("Broker:Flapping:Enabled", "true"),
            ("Broker:Flapping:MaxConnects", "3"),
            ("Broker:Flapping:WindowSeconds", "60"),
            ("Broker:Flapping:BanSeconds", "60"));
        var id = TestIds.Client("flap");
        for (var i = 0; i < 3; i++)
        {
            await using var ok = await broker.ConnectAsync(id);
            await ok.DisconnectAsync();
        }

        await using var flapper = await broker.OpenRawAsync();
        var connAck = await flapper.ConnectAsync(id, version: MqttProtocolVersion.V500);
        Assert.Equal((byte)ReasonCode.Banned, connAck.ReasonCode);
        Assert.Contains(broker.Server.Broker.Bans.All, b => b.Kind == BanKind.ClientId && b.Value == id);

        await using var other = await broker.ConnectAsync(TestIds.Client());
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, 0x80)]
    [InlineData(MqttProtocolVersion.V500, 0x97)]
    public async Task MaxSubscriptionsPerClient_RefusesFiltersBeyondIt(MqttProtocolVersion version, byte refusal)
    {
        await using var broker = await StartAsync(("Broker:MaxSubscriptionsPerClient", "2"));
        await using var client = await broker.ConnectAsync(TestIds.Client(), version: version);
        var subAck = await client.SubscribeAsync(("a/1", MqttQoS.AtMostOnce), ("a/2", MqttQoS.AtMostOnce), ("a/3", MqttQoS.AtMostOnce));
        Assert.Equal([0, 0, refusal], subAck.ReasonCodes);

        // Re-subscribing to a filter it holds is not a new subscription.
        Assert.Equal([1], (await client.SubscribeAsync(("a/1", MqttQoS.AtLeastOnce))).ReasonCodes);
    }

    [Fact]
    public async Task SubscribeFloodOfThousandsOfFilters_IsBoundedAndOthersKeepWorking()
    {
        await using var broker = await StartAsync(("Broker:MaxSubscriptionsPerClient", "100"));
        await using var bystander = await broker.ConnectAsync(TestIds.Client("by"));
        var topic = TestIds.Topic();
        await bystander.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        await using var flooder = await broker.ConnectAsync(TestIds.Client("flood"));
        var filters = Enumerable.Range(0, 5000).Select(i => ($"flood/{i}/#", MqttQoS.AtMostOnce)).ToArray();
        var subAck = await flooder.SubscribeAsync(filters);
        Assert.Equal(100, subAck.ReasonCodes.Count(c => c == 0));
        Assert.Equal(4900, subAck.ReasonCodes.Count(c => c == 0x80));
        Assert.True(broker.Server.Broker.SubscriptionCount <= 101);

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "still here");
        Assert.Equal("still here", (await bystander.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task DeepTopics_AreRefusedAboveMaxTopicLevels()
    {
        await using var broker = await StartAsync(("Broker:MaxTopicLevels", "4"));
        await using var v5 = await broker.ConnectV5Async(TestIds.Client());
        var subAck = await v5.SubscribeAsync(("a/b/c/d", MqttQoS.AtMostOnce), ("a/b/c/d/e", MqttQoS.AtMostOnce));
        Assert.Equal([0, (byte)ReasonCode.TopicFilterInvalid], subAck.ReasonCodes);

        await v5.SendAsync(new PublishPacket { Topic = "a/b/c/d/e", QoS = MqttQoS.AtLeastOnce, PacketId = 9, Payload = "deep"u8.ToArray() });
        var ack = await v5.ReceiveAsync<PubAckPacket>();
        Assert.Equal(ReasonCode.TopicNameInvalid, ack.ReasonCode);

        await v5.PublishAsync("a/b/c/d", "ok");
        Assert.Equal("ok", (await v5.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task PublishRate_IsThrottledByReadingMoreSlowly_WithoutLosingMessages()
    {
        await using var broker = await StartAsync(("Broker:MaxPublishRate", "20"));
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("sub"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 60; i++)
        {
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = BitConverter.GetBytes(i) });
        }

        for (var i = 0; i < 60; i++)
        {
            var publish = await subscriber.ReceivePublishAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(i, BitConverter.ToInt32(publish.Payload.Span));
        }

        // 60 messages at 20/s with a burst of 20: the last ones cannot arrive before ~2 s.
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1.5), $"60 messages at 20/s arrived in {watch.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task Slowloris_PacketThatNeverCompletes_IsClosedAndOthersKeepWorking()
    {
        await using var broker = await StartAsync(("Broker:IncompletePacketTimeoutSeconds", "0.5"));
        await using var bystander = await broker.ConnectAsync(TestIds.Client("by"));
        await using var slow = await broker.ConnectAsync(TestIds.Client("slow"));

        // A PUBLISH announcing 1000 bytes, of which only a few are ever sent.
        await slow.SendRawAsync([0x30, 0xE8, 0x07, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b']);

        Assert.True(await slow.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "a packet stuck half-way must close the connection\n" + slow.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task UserProperties_AtTheLimitPass_OnePastIt_AndAHugeList_CloseOnlyThatConnection()
    {
        await using var broker = await StartAsync(("Broker:MaxUserProperties", "100"));
        await using var bystander = await broker.ConnectAsync(TestIds.Client("by"));
        var topic = TestIds.Topic();
        await using var client = await broker.ConnectV5Async(TestIds.Client("props"));
        await client.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        await client.SendAsync(new PublishPacket { Topic = topic, Payload = "ok"u8.ToArray(), Properties = new MqttProperties { UserProperties = UserProperties(100) } });
        Assert.Equal(100, (await client.ReceivePublishAsync()).Properties?.UserProperties?.Count);

        await client.SendAsync(new PublishPacket { Topic = topic, Payload = "x"u8.ToArray(), Properties = new MqttProperties { UserProperties = UserProperties(101) } });
        await client.ExpectDisconnectAsync(ReasonCode.QuotaExceeded);

        await using var huge = await broker.ConnectV5Async(TestIds.Client("huge"));
        await huge.SendAsync(new PublishPacket { Topic = topic, Payload = "x"u8.ToArray(), Properties = new MqttProperties { UserProperties = UserProperties(20_000) } });
        await huge.ExpectDisconnectAsync(ReasonCode.QuotaExceeded);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    private static MqttUserProperty[] UserProperties(int count)
        => [.. Enumerable.Range(0, count).Select(i => new MqttUserProperty("k", i.ToString(System.Globalization.CultureInfo.InvariantCulture)))];

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Receive;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
        }
    }
}
