using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.BadInput;

/// <summary>
/// Malformed and hostile input: each case must close only the offending connection, while another
/// connected client and a new one keep being served.
/// </summary>
public sealed class BadInputTests
{
    /// <summary>Connects a victim and a bystander, sends <paramref name="bytes"/> on the victim, asserts the outcome.</summary>
    private static async Task AssertClosesOnlyOffenderAsync(byte[] bytes, IReadOnlyDictionary<string, string?>? settings = null)
    {
        await using var broker = await TestBroker.StartAsync(settings);
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var offender = await broker.ConnectAsync(TestIds.Client("bad"));

        await offender.SendRawAsync(bytes);

        Assert.True(await offender.WaitForCloseAsync(), "the broker must close the connection\n" + offender.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public Task Mqtt_2_2_1_PacketTypeZeroClosesConnection() =>
        AssertClosesOnlyOffenderAsync([0x00, 0x00]);

    [Fact]
    public Task Mqtt_2_2_1_PacketTypeFifteenClosesA311Connection() =>
        AssertClosesOnlyOffenderAsync([0xF0, 0x00]); // AUTH exists only in MQTT 5.0

    [Fact]
    public Task Mqtt_2_2_3_RemainingLengthOverFourBytesClosesConnection() =>
        AssertClosesOnlyOffenderAsync([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);

    [Fact]
    public async Task MaxPacketSize_OversizedRemainingLengthClosesBeforeThePayloadIsSent()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxPacketSize"] = "1024" });
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var offender = await broker.ConnectAsync(TestIds.Client("big"));

        // Only the fixed header announcing 10 MB: the broker must not wait for (or buffer) the body.
        await offender.SendRawAsync([0x30, .. RawPackets.RemainingLength(10_000_000)]);

        Assert.True(await offender.WaitForCloseAsync(), "a packet over Broker:MaxPacketSize must be rejected from its header\n" + offender.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task MaxPacketSize_PacketJustUnderTheLimitIsAccepted()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxPacketSize"] = "1024" });
        await using var client = await broker.ConnectAsync(TestIds.Client());
        var topic = TestIds.Topic();
        await client.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        // 2 header bytes + 2 + topic + payload = 1000 bytes in total, under the 1024 limit.
        var payload = new byte[1000 - 2 - 2 - Encoding.UTF8.GetByteCount(topic)];
        await client.PublishAsync(topic, payload, MqttQoS.AtMostOnce);

        Assert.Equal(payload.Length, (await client.ReceivePublishAsync()).Payload.Length);
    }

    [Theory]
    [InlineData("subscribe flags 0000", new byte[] { 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x78, 0x00 })]
    [InlineData("unsubscribe flags 0000", new byte[] { 0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x78 })]
    [InlineData("pubrel flags 0000", new byte[] { 0x60, 0x02, 0x00, 0x01 })]
    [InlineData("pingreq flags 0001", new byte[] { 0xC1, 0x00 })]
    [InlineData("disconnect flags 1000", new byte[] { 0xE8, 0x00 })]
    [InlineData("puback flags 0010", new byte[] { 0x42, 0x02, 0x00, 0x01 })]
    public Task Mqtt_2_2_2_2_ReservedFixedHeaderFlagsCloseConnection(string what, byte[] bytes)
    {
        Assert.NotNull(what);
        return AssertClosesOnlyOffenderAsync(bytes);
    }

    [Fact]
    public Task Mqtt_3_3_1_4_PublishWithQos3ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Publish("a"u8.ToArray(), flags: 0x06, packetId: 1, payload: "x"u8.ToArray()));

    [Theory]
    [InlineData("a/+")]
    [InlineData("a/#")]
    [InlineData("+")]
    [InlineData("#")]
    public Task Mqtt_3_3_2_2_WildcardInPublishTopicClosesConnection(string topic) =>
        AssertClosesOnlyOffenderAsync(RawPackets.Publish(Encoding.UTF8.GetBytes(topic), flags: 0x02, packetId: 1, payload: "x"u8.ToArray()));

    [Theory]
    [InlineData("invalid continuation", new byte[] { 0x61, 0xC3, 0x28 })]
    [InlineData("U+0000", new byte[] { 0x61, 0x00, 0x62 })]
    [InlineData("UTF-16 surrogate U+D800", new byte[] { 0x61, 0xED, 0xA0, 0x80 })]
    [InlineData("overlong encoding", new byte[] { 0x61, 0xC0, 0xAF })]
    public Task Mqtt_1_5_3_InvalidUtf8InPublishTopicClosesConnection(string what, byte[] topic)
    {
        Assert.NotNull(what);
        return AssertClosesOnlyOffenderAsync(RawPackets.Publish(topic, flags: 0x00, packetId: 0, payload: "x"u8.ToArray()));
    }

    [Fact]
    public Task Mqtt_1_5_3_InvalidUtf8InSubscribeFilterClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Subscribe(1, new byte[] { 0x61, 0xC3, 0x28 }));

    [Fact]
    public Task Mqtt_3_3_2_1_EmptyPublishTopicClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Publish(Array.Empty<byte>(), flags: 0x00, packetId: 0, payload: "x"u8.ToArray()));

    [Fact]
    public Task Mqtt_2_3_1_1_Qos1PublishWithPacketId0ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Publish("a"u8.ToArray(), flags: 0x02, packetId: 0, payload: "x"u8.ToArray()));

    [Fact]
    public Task Mqtt_2_3_1_1_Qos2PublishWithPacketId0ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Publish("a"u8.ToArray(), flags: 0x04, packetId: 0, payload: "x"u8.ToArray()));

    [Fact]
    public Task Mqtt_2_3_1_1_SubscribeWithPacketId0ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Subscribe(0, "a"));

    [Fact]
    public Task Mqtt_2_3_1_1_UnsubscribeWithPacketId0ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Unsubscribe(0, "a"));

    [Fact]
    public Task Mqtt_3_8_3_3_SubscribeWithoutFiltersClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Frame(0x82, RawPackets.U16(1)));

    [Fact]
    public Task Mqtt_3_8_3_4_SubscribeWithRequestedQos3ClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Subscribe(1, "a", qos: 3));

    [Fact]
    public Task Mqtt_3_1_0_2_SecondConnectClosesConnection() =>
        AssertClosesOnlyOffenderAsync(RawPackets.Connect(TestIds.Client()));

    [Fact]
    public Task Mqtt_2_2_3_PacketLongerThanItsRemainingLengthClosesConnection() =>
        // SUBSCRIBE says 4 bytes but its filter field claims 5: the fields overrun the packet.
        AssertClosesOnlyOffenderAsync([0x82, 0x04, 0x00, 0x01, 0x00, 0x05]);

    [Fact]
    public async Task Mqtt_3_1_0_1_FirstPacketNotConnectClosesConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync(RawPackets.Publish("a", "before connect"));

        Assert.True(await offender.WaitForCloseAsync(), "a PUBLISH before CONNECT must close the connection\n" + offender.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task Mqtt_3_1_0_1_PingBeforeConnectClosesConnectionWithoutPingResp()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync(RawPackets.PingReq);

        Assert.True(await offender.WaitForCloseAsync(), offender.Transcript);
        Assert.DoesNotContain("PINGRESP", offender.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mqtt_3_1_2_1_UnknownProtocolNameClosesOnlyThatConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync(RawPackets.Connect(TestIds.Client(), "HTTP", level: 4));

        Assert.True(await offender.WaitForCloseAsync(), offender.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task Mqtt_3_1_2_3_ConnectWithReservedFlagSetClosesConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync(RawPackets.Connect(TestIds.Client(), flags: 0x03));

        Assert.True(await offender.WaitForCloseAsync(), offender.Transcript);
        Assert.DoesNotContain("rc=0x00", offender.Transcript, StringComparison.Ordinal);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task Mqtt_3_1_2_13_ConnectWithWillQosButNoWillFlagClosesConnection()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync(RawPackets.Connect(TestIds.Client(), flags: 0x02 | 0x08));

        Assert.True(await offender.WaitForCloseAsync(), offender.Transcript);
        Assert.DoesNotContain("rc=0x00", offender.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectTimeout_ClientThatSendsNothingIsClosed()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:ConnectTimeoutSeconds"] = "0.5" });
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        await using var silent = await broker.OpenRawAsync();

        Assert.True(await silent.WaitForCloseAsync(), "a connection without CONNECT must be closed after Broker:ConnectTimeoutSeconds\n" + silent.Transcript);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task ConnectTimeout_ClientThatSendsHalfAConnectIsClosed()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Broker:ConnectTimeoutSeconds"] = "0.5" });
        await using var slow = await broker.OpenRawAsync();

        await slow.SendRawAsync(RawPackets.Connect(TestIds.Client())[..5]);

        Assert.True(await slow.WaitForCloseAsync(), slow.Transcript);
    }

    [Fact]
    public async Task Mqtt_3_1_0_1_HttpRequestIsClosedWithoutWaitingForMoreBytes()
    {
        // 'G' (0x47) is a PUBACK header and 'E' a remaining length of 69, more than the request holds.
        // The first byte already shows it is not CONNECT; the broker must not sit on the connection
        // until Broker:ConnectTimeoutSeconds (10 s by default) waiting for the rest.
        await using var broker = await TestBroker.StartAsync();
        await using var offender = await broker.OpenRawAsync();

        await offender.SendRawAsync([.. "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8]);

        Assert.True(await offender.WaitForCloseAsync(), "a first packet that is not CONNECT must be refused from its first byte\n" + offender.Transcript);
    }

    [Fact]
    public async Task ManyBadConnectionsDoNotHarmTheBroker()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var bystander = await broker.ConnectAsync(TestIds.Client("ok"));
        byte[][] garbage =
        [
            [0x00, 0x00],
            [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            [0x82, 0x04, 0x00, 0x01, 0x00, 0x05],
            [0x10, 0x00],
        ];
        foreach (var bytes in garbage)
        {
            await using var offender = await broker.OpenRawAsync();
            await offender.SendRawAsync(bytes);
            Assert.True(await offender.WaitForCloseAsync(), offender.Transcript);
        }

        await BrokerHealth.AssertServesAsync(broker, bystander);
    }
}
