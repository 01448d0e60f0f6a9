using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>
/// Property-level protocol errors an MQTT 5 client can make (spec 2.2.2.2, 4.13): each gets a DISCONNECT with
/// the reason code and closes only that connection. Packets are hand-assembled because Tern's encoder
/// would not produce them.
/// </summary>
public sealed class ProtocolErrorTests
{
    /// <summary>A QoS 0 PUBLISH to <paramref name="topic"/> with the given raw property bytes (length prefix added).</summary>
    private static byte[] PublishWithProperties(string topic, params byte[] properties) =>
        RawPackets.Frame(0x30, RawPackets.Field(topic), RawPackets.RemainingLength(properties.Length), properties, "payload"u8.ToArray());

    private static async Task ExpectOnlyThisConnectionClosedAsync(byte[] packet, params ReasonCode[] expected)
    {
        await using var broker = await StartAsync();
        var topic = TestIds.Topic();
        await using var bystander = await SubscriberAsync(broker, topic);
        await using var client = await broker.ConnectV5Async(TestIds.Client("bad"));

        await client.SendRawAsync(packet);

        var disconnect = await client.ExpectDisconnectAsync(expected);
        AssertHasReasonString(disconnect, client);
        await BrokerHealth.AssertServesAsync(broker, bystander);
        await using var publisher = await broker.ConnectV5Async(TestIds.Client("pub"));
        await publisher.PublishV5Async(topic, "still routed");
        await bystander.ExpectPublishAsync(topic, "still routed");
    }

    [Fact]
    public Task RepeatedContentType_IsDisconnect82() =>
        ExpectOnlyThisConnectionClosedAsync(
            PublishWithProperties("t/dup", 0x03, 0x00, 0x01, (byte)'a', 0x03, 0x00, 0x01, (byte)'b'),
            ReasonCode.ProtocolError);

    [Fact]
    public Task RepeatedMessageExpiry_IsDisconnect82() =>
        ExpectOnlyThisConnectionClosedAsync(
            PublishWithProperties("t/dup", 0x02, 0, 0, 0, 5, 0x02, 0, 0, 0, 6),
            ReasonCode.ProtocolError);

    [Fact]
    public Task RepeatedTopicAlias_IsDisconnect82() =>
        ExpectOnlyThisConnectionClosedAsync(
            PublishWithProperties("t/dup", 0x23, 0, 1, 0x23, 0, 2),
            ReasonCode.ProtocolError);

    [Fact]
    public Task UnknownPropertyId_IsDisconnect81() =>
        ExpectOnlyThisConnectionClosedAsync(
            PublishWithProperties("t/unknown", 0x7F, 0x00),
            ReasonCode.MalformedPacket, ReasonCode.ProtocolError);

    [Fact]
    public Task PropertyNotAllowedInPublish_IsDisconnect81() =>
        ExpectOnlyThisConnectionClosedAsync(
            PublishWithProperties("t/session-expiry", 0x11, 0, 0, 0, 1), // session expiry interval belongs in CONNECT
            ReasonCode.MalformedPacket, ReasonCode.ProtocolError);

    [Fact]
    public Task RepeatedSubscriptionIdentifierInSubscribe_IsDisconnect82() =>
        ExpectOnlyThisConnectionClosedAsync(
            RawPackets.Frame(0x82, RawPackets.U16(1), [0x04, 0x0B, 0x01, 0x0B, 0x02], RawPackets.Field("t/sub"), [0x01]),
            ReasonCode.ProtocolError, ReasonCode.MalformedPacket);

    [Fact]
    public async Task RepeatedPropertyInConnect_ConnectionIsClosedWithoutAcceptingIt()
    {
        await using var broker = await StartAsync();
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("by"));
        await using var client = await broker.OpenRawAsync();
        client.Version = MqttProtocolVersion.V500;
        // CONNECT v5, clean start, keep alive 0, properties: session expiry twice.
        byte[] properties = [0x11, 0, 0, 0, 10, 0x11, 0, 0, 0, 20];
        await client.SendRawAsync(RawPackets.Frame(
            0x10, RawPackets.Field("MQTT"), [5, 0x02], RawPackets.U16(0), [(byte)properties.Length], properties, RawPackets.Field(TestIds.Client("dup"))));

        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
        try
        {
            var packet = await client.ReceiveAnyAsync(TimeSpan.Zero);
            Assert.True(packet is ConnAckPacket { ReasonCode: >= 0x80 }, "only a refusing CONNACK may precede the close: " + Describe(packet));
        }
        catch (MqttTestException)
        {
            // Closed without CONNACK: allowed [MQTT-4.13.1-1].
        }

        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task UnknownAuthenticationMethod_IsConnAck8C()
    {
        await using var broker = await StartAsync();
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client("auth"), new MqttProperties { AuthenticationMethod = "X-UNKNOWN-METHOD" });
        await using var _ = client;

        Assert.True(connAck.ReasonCode == (byte)ReasonCode.BadAuthenticationMethod, Describe(connAck));
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }
}
