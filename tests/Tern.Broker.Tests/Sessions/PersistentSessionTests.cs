using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Sessions;

/// <summary>Persistent sessions (clean session 0, spec 3.1.2.4 and 4.4).</summary>
public sealed class PersistentSessionTests
{
    [Fact]
    public async Task Mqtt_3_2_2_2_ReconnectToPersistentSessionReportsSessionPresent1()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        await using (var first = await broker.OpenRawAsync())
        {
            var connAck = await first.ConnectAsync(id, cleanSession: false);
            Assert.False(connAck.SessionPresent, "[MQTT-3.2.2-3] a new session must report session present 0");
            await first.DisconnectAsync();
        }

        await using var second = await broker.OpenRawAsync();
        var again = await second.ConnectAsync(id, cleanSession: false);
        Assert.Equal(0, again.ReasonCode);
        Assert.True(again.SessionPresent, "[MQTT-3.2.2-2] a resumed session must report session present 1");
    }

    [Fact]
    public async Task Mqtt_3_1_2_4_PersistentSessionKeepsSubscriptionsAcrossReconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await first.DisconnectAsync();
        }

        await using var second = await broker.ConnectAsync(id, cleanSession: false);
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "still subscribed", MqttQoS.AtLeastOnce);

        var received = await second.ReceivePublishAsync();
        Assert.Equal(("still subscribed", MqttQoS.AtLeastOnce), (received.PayloadText(), received.QoS));
    }

    [Fact]
    public async Task Mqtt_3_1_2_5_Qos1And2MessagesAreQueuedWhileOfflineAndDeliveredOnReconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
            await first.DisconnectAsync();
        }

        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            await publisher.PublishAsync(topic, "q1", MqttQoS.AtLeastOnce);
            await publisher.PublishAsync(topic, "q2", MqttQoS.ExactlyOnce);
        }

        await using var second = await broker.OpenRawAsync();
        var connAck = await second.ConnectAsync(id, cleanSession: false);
        Assert.True(connAck.SessionPresent);
        var m1 = await second.ReceivePublishAsync();
        var m2 = await second.ReceivePublishAsync();
        Assert.Equal(("q1", MqttQoS.AtLeastOnce), (m1.PayloadText(), m1.QoS));
        Assert.Equal(("q2", MqttQoS.ExactlyOnce), (m2.PayloadText(), m2.QoS));
        await second.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_1_2_5_Qos0MessagesAreNotQueuedWhileOffline()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await first.DisconnectAsync();
        }

        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            await publisher.PublishAsync(topic, "qos0 while offline", MqttQoS.AtMostOnce);
            await publisher.PublishAsync(topic, "qos1 marker", MqttQoS.AtLeastOnce);
        }

        await using var second = await broker.ConnectAsync(id, cleanSession: false);
        var received = await second.ReceivePublishAsync();
        Assert.Equal("qos1 marker", received.PayloadText());
        await second.ExpectNoPacketAsync();
    }

    [Theory]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task Mqtt_4_4_0_1_UnacknowledgedPublishIsResentWithDupAfterReconnect(MqttQoS qos)
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        PublishPacket original;
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, qos);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic, "unacked", qos);
            original = await first.ReceivePublishAsync(ack: false);
            Assert.False(original.Dup);
            await first.AbortAsync();
        }

        await using var second = await broker.OpenRawAsync();
        Assert.True((await second.ConnectAsync(id, cleanSession: false)).SessionPresent);
        var resent = await second.ReceivePublishAsync(ack: false);
        Assert.Equal("unacked", resent.PayloadText());
        Assert.True(resent.Dup, "[MQTT-3.3.1-1] a redelivered PUBLISH must have DUP 1\n" + second.Transcript);
        Assert.Equal(original.PacketId, resent.PacketId);
        Assert.Equal(qos, resent.QoS);
        await second.AcknowledgeAsync(resent);
        await second.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_4_0_1_UnacknowledgedPublishesAreResentInTheirOriginalOrderAfterOthersWereAcknowledged()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        var sent = new List<PublishPacket>();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            for (var i = 0; i < 6; i++)
            {
                await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
            }

            for (var i = 0; i < 6; i++)
            {
                sent.Add(await first.ReceivePublishAsync(ack: false));
            }

            // Acknowledged out of order, from the middle and both ends of the window.
            await first.AcknowledgeAsync(sent[3]);
            await first.AcknowledgeAsync(sent[0]);
            await first.AcknowledgeAsync(sent[5]);
            await first.AcknowledgeAsync(sent[1]);
            Assert.True(broker.Server.Broker.Sessions.TryGet(id, out var session));
            await TestWait.UntilAsync(() => session!.InflightMessages == 2, "the four PUBACKs to reach the broker");
            await first.AbortAsync();
        }

        await using var second = await broker.OpenRawAsync();
        Assert.True((await second.ConnectAsync(id, cleanSession: false)).SessionPresent);
        foreach (var expected in new[] { sent[2], sent[4] })
        {
            var resent = await second.ReceivePublishAsync(ack: false);
            Assert.Equal(expected.PayloadText(), resent.PayloadText());
            Assert.Equal(expected.PacketId, resent.PacketId);
            Assert.True(resent.Dup, second.Transcript);
            await second.AcknowledgeAsync(resent);
        }

        await second.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_4_4_0_1_PubRelIsResentAfterReconnectWhenPubCompWasMissing()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        ushort packetId;
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);
            await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
            await publisher.PublishAsync(topic, "pubrec sent", MqttQoS.ExactlyOnce);
            var publish = await first.ReceivePublishAsync(ack: false);
            packetId = publish.PacketId;
            await first.SendAsync(new PubRecPacket { PacketId = packetId });
            Assert.Equal(packetId, (await first.ReceiveAsync<PubRelPacket>()).PacketId);
            await first.AbortAsync();
        }

        await using var second = await broker.OpenRawAsync();
        Assert.True((await second.ConnectAsync(id, cleanSession: false)).SessionPresent);
        var rel = await second.ReceiveAsync<PubRelPacket>();
        Assert.Equal(packetId, rel.PacketId);
        await second.SendAsync(new PubCompPacket { PacketId = packetId });
        await second.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task MaxQueuedMessages_OfflineQueueKeepsAtMostNMessages()
    {
        const int limit = 5;
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxQueuedMessages"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await first.DisconnectAsync();
        }

        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            for (var i = 0; i < 2 * limit; i++)
            {
                await publisher.PublishAsync(topic, $"m{i:00}", MqttQoS.AtLeastOnce);
            }
        }

        await using var second = await broker.ConnectAsync(id, cleanSession: false);
        var received = new List<string>();
        for (var i = 0; i < limit; i++)
        {
            received.Add((await second.ReceivePublishAsync()).PayloadText());
        }

        await second.ExpectNoPacketAsync();
        Assert.Equal(received.Order(StringComparer.Ordinal), received);
        Assert.Equal(limit, received.Distinct().Count());
    }

    [Fact]
    public async Task Mqtt_3_1_2_6_CleanSessionIsNotKeptAfterDisconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: true))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await first.DisconnectAsync();
        }

        await using (var publisher = await broker.ConnectAsync(TestIds.Client("pub")))
        {
            await publisher.PublishAsync(topic, "for nobody", MqttQoS.AtLeastOnce);
        }

        await using var second = await broker.OpenRawAsync();
        var connAck = await second.ConnectAsync(id, cleanSession: false);
        Assert.False(connAck.SessionPresent);
        await second.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Mqtt_3_1_2_4_QueuedMessagesSurviveAnAbruptDisconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var first = await broker.ConnectAsync(id, cleanSession: false))
        {
            await first.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await first.AbortAsync(reset: true);
        }

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "queued", MqttQoS.AtLeastOnce);

        await using var second = await broker.ConnectAsync(id, cleanSession: false);
        Assert.Equal("queued", (await second.ReceivePublishAsync()).PayloadText());
    }
}
