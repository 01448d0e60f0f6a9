using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>Messages in flight when the connection drops, against a scripted broker.</summary>
public sealed class InFlightTests
{
    [Fact]
    public async Task Unacknowledged_qos1_is_resent_with_dup_and_same_id_after_reconnect()
    {
        await using var broker = new ScriptedBroker();
        await using var c = TestClient.For(broker.Uri);
        await c.Client.StartAsync();
        using (var first = await broker.AcceptAsync())
        {
            int id = c.Client.Publish("a/b", "x", MqttQoS.AtLeastOnce);
            var publish = await first.ExpectAsync<PublishPacket>();
            Assert.Equal(id, publish.PacketId);
            Assert.False(publish.Dup);
        }

        using var second = await broker.AcceptAsync(sessionPresent: true);
        var resent = await second.ExpectAsync<PublishPacket>();
        Assert.True(resent.Dup);
        Assert.Equal("a/b", resent.Topic);
        await second.SendAsync(new PubAckPacket { PacketId = resent.PacketId });
        var published = await c.Events.WaitAsync<PublishedEventArgs>();
        Assert.Equal(resent.PacketId, published.MessageId);
        Assert.Equal(0, c.Client.OutboxCount);
    }

    [Fact]
    public async Task Qos2_after_pubrec_resends_pubrel_not_the_publish()
    {
        await using var broker = new ScriptedBroker();
        await using var c = TestClient.For(broker.Uri);
        await c.Client.StartAsync();
        Task<PublishResult> result;
        ushort id;
        using (var first = await broker.AcceptAsync())
        {
            result = c.Client.PublishAsync("a/b", "x", MqttQoS.ExactlyOnce);
            id = (await first.ExpectAsync<PublishPacket>()).PacketId;
            await first.SendAsync(new PubRecPacket { PacketId = id });
            Assert.Equal(id, (await first.ExpectAsync<PubRelPacket>()).PacketId);
        }

        using var second = await broker.AcceptAsync(sessionPresent: true);
        Assert.Equal(id, (await second.ExpectAsync<PubRelPacket>()).PacketId);
        await second.SendAsync(new PubCompPacket { PacketId = id });
        Assert.True((await result.WaitAsync(EventLog.Timeout)).IsSuccess);
    }

    [Fact]
    public async Task Incoming_qos2_resent_before_pubrel_is_delivered_once()
    {
        await using var broker = new ScriptedBroker();
        await using var c = TestClient.For(broker.Uri);
        await c.Client.StartAsync();
        using var s = await broker.AcceptAsync();
        var publish = new PublishPacket { Topic = "in/q2", Payload = "once"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = 9 };
        await s.SendAsync(publish);
        Assert.Equal(9, (await s.ExpectAsync<PubRecPacket>()).PacketId);
        await s.SendAsync(publish with { Dup = true });
        Assert.Equal(9, (await s.ExpectAsync<PubRecPacket>()).PacketId);
        await s.SendAsync(new PubRelPacket { PacketId = 9 });
        Assert.Equal(9, (await s.ExpectAsync<PubCompPacket>()).PacketId);

        // A new message may reuse id 9 after PUBCOMP.
        await s.SendAsync(publish with { Payload = "again"u8.ToArray() });
        await c.Events.WaitAsync<DataEventArgs>(e => e.Message.PayloadText == "again");
        Assert.Single(c.Events.All<DataEventArgs>(), e => e.Message.PayloadText == "once");
    }

    [Fact]
    public async Task Publish_arriving_in_the_same_segment_as_connack_is_delivered_at_once()
    {
        await using var broker = new ScriptedBroker();
        await using var c = TestClient.For(broker.Uri);
        await c.Client.StartAsync();
        using var s = await broker.AcceptAsync(sessionPresent: true, new PublishPacket { Topic = "queued/t", Payload = "early"u8.ToArray() });
        var data = await c.Events.WaitAsync<DataEventArgs>();
        Assert.Equal("early", data.Message.PayloadText);
    }

    [Fact]
    public async Task Missing_pingresp_ends_the_connection_with_only_Disconnected()
    {
        await using var broker = new ScriptedBroker();
        await using var c = TestClient.For(broker.Uri, o => { o.KeepAlive = TimeSpan.FromSeconds(1); o.AutoReconnect = false; });
        c.Client.Options.NetworkTimeout = TimeSpan.FromMilliseconds(500);
        await c.Client.StartAsync();
        using var s = await broker.AcceptAsync();
        Assert.IsType<PingReqPacket>(await s.ReceiveAsync());
        var disconnected = await c.Events.WaitAsync<DisconnectedEventArgs>();
        Assert.False(disconnected.ClientInitiated);
        Assert.Empty(c.Events.All<MqttErrorEventArgs>());
    }
}
