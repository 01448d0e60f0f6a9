using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>MQTT 5.0 reason codes in SUBACK, UNSUBACK and broker DISCONNECTs (spec 2.4, 3.9.3, 3.11.3, 3.14.2.1).</summary>
public sealed class ReasonCodeTests
{
    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a+/b")]
    [InlineData("")]
    public async Task SubAck8F_ForAnInvalidFilter_PerFilter(string filter)
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client());
        var good = TestIds.Topic();

        var ack = await client.SubscribeAsync((filter, MqttQoS.AtLeastOnce), (good, MqttQoS.AtLeastOnce));

        Assert.True(ack.ReasonCodes[0] == (byte)ReasonCode.TopicFilterInvalid && ack.ReasonCodes[1] == 1, $"'{filter}': {Describe(ack)}");
        await client.PingAsync();
    }

    [Fact]
    public async Task SubAckA2_ForWildcardsWhenTurnedOff_PlainFiltersStillWork()
    {
        await using var broker = await StartAsync(("Broker:WildcardSubscriptionAvailable", "false"));
        await using var client = await broker.ConnectV5Async(TestIds.Client());
        var topic = TestIds.Topic();

        var ack = await client.SubscribeAsync(("tern-test/#", MqttQoS.AtLeastOnce), ("tern-test/+/x", MqttQoS.AtMostOnce), (topic, MqttQoS.AtLeastOnce));

        Assert.True(
            ack.ReasonCodes.SequenceEqual(new byte[] { (byte)ReasonCode.WildcardSubscriptionsNotSupported, (byte)ReasonCode.WildcardSubscriptionsNotSupported, 1 }),
            Describe(ack));
        await client.PublishV5Async(topic, "plain works");
        await client.ExpectPublishAsync(topic, "plain works");
    }

    [Fact]
    public async Task SubAck_GrantsAtMostTheMaximumQoS()
    {
        await using var broker = await StartAsync(("Broker:MaximumQoS", "1"));
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeV5Async(TestIds.Topic(), MqttQoS.ExactlyOnce);

        Assert.True(ack.ReasonCodes[0] == 1, Describe(ack));
    }

    [Fact]
    public async Task UnsubAck11_ForAFilterNotSubscribed_00ForOneThatWas()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client());
        var subscribed = TestIds.Topic();
        await client.SubscribeV5GrantedAsync(subscribed);

        var ack = await client.UnsubscribeAsync(subscribed, TestIds.Topic());

        Assert.True(ack.ReasonCodes.SequenceEqual(new byte[] { 0x00, (byte)ReasonCode.NoSubscriptionExisted }), Describe(ack));
    }

    [Fact]
    public async Task Disconnect8E_ToTheOldConnectionOnTakeover()
    {
        await using var broker = await StartAsync();
        var id = TestIds.Client("take");
        await using var old = await broker.ConnectV5Async(id);

        await using var current = await broker.ConnectV5Async(id);

        var disconnect = await old.ExpectDisconnectAsync(ReasonCode.SessionTakenOver);
        AssertHasReasonString(disconnect, old);
        await current.PingAsync();
    }

    [Fact]
    public async Task Disconnect8D_OnKeepAliveTimeout()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("ka"), keepAlive: 1);

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.KeepAliveTimeout);
        AssertHasReasonString(disconnect, client);
    }

    [Fact]
    public async Task Disconnect81_OnMalformedPacket_PropertyLengthPastTheEnd()
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("mal"));

        // PUBLISH QoS 0 whose property length (9) runs past the packet.
        await client.SendRawAsync(RawPackets.Frame(0x30, RawPackets.Field("t"), [0x09, 0x03, 0x00]));

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.MalformedPacket);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task Disconnect82_OnProtocolError_SecondConnect()
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("twice"));

        await client.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = client.Name });

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.ProtocolError);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task Disconnect9B_OnQoSAboveMaximumQoS()
    {
        await using var broker = await StartAsync(("Broker:MaximumQoS", "1"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("qos"));
        await client.PublishQoS1V5Async(TestIds.Topic(), "q1 is fine");

        await client.SendPublishV5Async(TestIds.Topic(), "q2 is not", MqttQoS.ExactlyOnce);

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.QoSNotSupported);
        AssertHasReasonString(disconnect, client);
    }

    [Fact]
    public async Task Disconnect9A_OnRetainWhenRetainIsNotAvailable()
    {
        await using var broker = await StartAsync(("Broker:RetainAvailable", "false"));
        await using var client = await broker.ConnectV5Async(TestIds.Client("ret"));
        await client.PublishQoS1V5Async(TestIds.Topic(), "not retained is fine");

        await client.SendPublishV5Async(TestIds.Topic(), "retained is not", MqttQoS.AtLeastOnce, retain: true);

        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.RetainNotSupported);
        AssertHasReasonString(disconnect, client);
    }

    [Fact]
    public async Task Disconnect82_OnPublishCarryingASubscriptionIdentifier()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("sid"));

        await client.SendPublishV5Async(TestIds.Topic(), "client may not send this", MqttQoS.AtLeastOnce, new MqttProperties { SubscriptionIdentifiers = [3] });

        await client.ExpectDisconnectAsync(ReasonCode.ProtocolError);
    }

    [Fact]
    public async Task ClientDisconnectWithReasonCode_IsAccepted()
    {
        await using var broker = await StartAsync();
        await using var client = await broker.ConnectV5Async(TestIds.Client("dc"));

        await client.SendAsync(new DisconnectPacket { ReasonCode = ReasonCode.UnspecifiedError, Properties = new MqttProperties { ReasonString = "client-side failure" } });

        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }
}
