using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Connect;

/// <summary>CONNECT/CONNACK (spec 3.1, 3.2) through a real broker over TCP.</summary>
public sealed class ConnectTests
{
    [Fact]
    public async Task Mqtt_3_2_2_3_ValidConnectIsAcceptedWithReturnCode0()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        var connAck = await client.ConnectAsync(TestIds.Client());

        Assert.Equal((byte)ConnectReturnCode.Accepted, connAck.ReasonCode);
        Assert.False(connAck.SessionPresent, "[MQTT-3.2.2-1] clean session CONNACK must have session present 0");
    }

    [Fact]
    public async Task Mqtt_3_1_2_2_UnknownProtocolLevelGetsConnAck1ThenClose()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        await client.SendRawAsync(RawPackets.Connect(TestIds.Client(), "MQTT", level: 6));

        var connAck = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal((byte)ConnectReturnCode.UnacceptableProtocolVersion, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), "connection must be closed after CONNACK 0x01\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_3_1_2_1_UnknownProtocolNameGetsConnAck1ThenClose()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        await client.SendRawAsync(RawPackets.Connect(TestIds.Client(), "MQTX", level: 4));

        var connAck = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal((byte)ConnectReturnCode.UnacceptableProtocolVersion, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), "connection must be closed after CONNACK 0x01\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_3_1_2_2_Mqtt311NameWithLevel3IsRejected()
    {
        // "MQTT" is the 3.1.1 name; level 3 belongs with "MQIsdp". The pair is unknown.
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        await client.SendRawAsync(RawPackets.Connect(TestIds.Client(), "MQTT", level: 3));

        var connAck = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal((byte)ConnectReturnCode.UnacceptableProtocolVersion, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    [Fact]
    public async Task Mqtt_3_1_3_8_EmptyClientIdWithoutCleanSessionGetsConnAck2ThenClose()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        var connAck = await client.ConnectAsync("", cleanSession: false);

        Assert.Equal((byte)ConnectReturnCode.IdentifierRejected, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), "[MQTT-3.2.2-5] connection must be closed after a non-zero CONNACK\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_3_1_3_6_EmptyClientIdWithCleanSessionIsAssignedAnIdAndWorks()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        var connAck = await client.ConnectAsync("", cleanSession: true);
        Assert.Equal((byte)ConnectReturnCode.Accepted, connAck.ReasonCode);

        var topic = TestIds.Topic();
        await client.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await client.PublishAsync(topic, "hello", MqttQoS.AtLeastOnce);
        var received = await client.ReceivePublishAsync();
        Assert.Equal("hello", received.PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_1_3_6_TwoClientsWithEmptyIdsGetDistinctSessions()
    {
        // If both got the same assigned id, the second would take the first over and close it.
        await using var broker = await TestBroker.StartAsync();
        await using var first = await broker.ConnectAsync("");
        await using var second = await broker.ConnectAsync("");

        await first.PingAsync();
        await second.PingAsync();
    }

    [Fact]
    public async Task Mqtt_3_1_0_2_SecondConnectClosesConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.ConnectAsync(TestIds.Client());

        await client.SendAsync(new ConnectPacket { ClientId = client.Name, CleanSession = true });

        Assert.True(await client.WaitForCloseAsync(), "a second CONNECT must close the connection\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_3_1_4_2_SameClientIdTakesOverAndClosesOldConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        await using var old = await broker.ConnectAsync(id);
        await using var current = await broker.ConnectAsync(id);

        Assert.True(await old.WaitForCloseAsync(), "the old connection must be closed on takeover\n" + old.Transcript);
        await current.PingAsync();
        Assert.False(current.IsClosed);
    }

    [Fact]
    public async Task Mqtt_3_1_4_2_NewConnectionAfterTakeoverReceivesMessages()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using var old = await broker.ConnectAsync(id, cleanSession: false);
        await old.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        await using var current = await broker.OpenRawAsync();
        var connAck = await current.ConnectAsync(id, cleanSession: false);
        Assert.True(connAck.SessionPresent, "takeover of a persistent session must report session present 1");
        Assert.True(await old.WaitForCloseAsync(), old.Transcript);

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "after-takeover", MqttQoS.AtLeastOnce);
        var received = await current.ReceivePublishAsync();
        Assert.Equal("after-takeover", received.PayloadText());
    }

    [Fact]
    public async Task Mqtt31_MQIsdpLevel3ConnectAndPubSubWork()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.OpenRawAsync();
        var connAck = await subscriber.ConnectAsync(TestIds.Client("v31"), version: MqttProtocolVersion.V310);
        Assert.Equal(0, connAck.ReasonCode);
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.ExactlyOnce);

        await using var publisher = await broker.ConnectAsync(TestIds.Client("v31p"), version: MqttProtocolVersion.V310);
        await publisher.PublishAsync(topic, "q0", MqttQoS.AtMostOnce);
        await publisher.PublishAsync(topic, "q1", MqttQoS.AtLeastOnce);
        await publisher.PublishAsync(topic, "q2", MqttQoS.ExactlyOnce);

        Assert.Equal("q0", (await subscriber.ReceivePublishAsync()).PayloadText());
        var q1 = await subscriber.ReceivePublishAsync();
        Assert.Equal(("q1", MqttQoS.AtLeastOnce), (q1.PayloadText(), q1.QoS));
        var q2 = await subscriber.ReceivePublishAsync();
        Assert.Equal(("q2", MqttQoS.ExactlyOnce), (q2.PayloadText(), q2.QoS));
    }

    [Fact]
    public async Task Mqtt31_And311ClientsExchangeMessages()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var v31 = await broker.ConnectAsync(TestIds.Client("v31"), version: MqttProtocolVersion.V310);
        await using var v311 = await broker.ConnectAsync(TestIds.Client("v311"));
        await v31.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        await v311.PublishAsync(topic, "cross", MqttQoS.AtLeastOnce);

        Assert.Equal("cross", (await v31.ReceivePublishAsync()).PayloadText());
    }

    [Fact]
    public async Task Mqtt_3_2_2_1_CleanSessionDiscardsPreviousPersistentSession()
    {
        await using var broker = await TestBroker.StartAsync();
        var id = TestIds.Client();
        var topic = TestIds.Topic();
        await using (var persistent = await broker.ConnectAsync(id, cleanSession: false))
        {
            await persistent.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await persistent.DisconnectAsync();
        }

        await using (var clean = await broker.OpenRawAsync())
        {
            var connAck = await clean.ConnectAsync(id, cleanSession: true);
            Assert.False(connAck.SessionPresent, "[MQTT-3.2.2-1] clean session must report session present 0");
            await clean.DisconnectAsync();
        }

        await using var again = await broker.OpenRawAsync();
        var reconnect = await again.ConnectAsync(id, cleanSession: false);
        Assert.False(reconnect.SessionPresent, "[MQTT-3.1.2-6] the clean session must have discarded the old state");

        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        await publisher.PublishAsync(topic, "must not arrive", MqttQoS.AtLeastOnce);
        await again.ExpectNoPacketAsync();
    }
}
