using System.Text;

namespace Tern.Protocol.Tests;

/// <summary>
/// Wire bytes worked out by hand from the specification's packet layouts (3.1.1 and 5.0 chapter 3).
/// Each case is checked both ways: encode gives the bytes, decode of the bytes encodes back to them.
/// </summary>
public class GoldenBytesTests
{
    private const MqttProtocolVersion V310 = MqttProtocolVersion.V310;
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V500 = MqttProtocolVersion.V500;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public static TheoryData<string, MqttPacket, MqttProtocolVersion, string> Cases => new()
    {
        {
            "CONNECT 3.1",
            new ConnectPacket { ProtocolVersion = V310, ClientId = "abc", KeepAlive = 10 },
            V310,
            // 10 11: CONNECT, remaining 17 | 00 06 "MQIsdp" | 03 level | 02 clean | 00 0A keep alive | 00 03 "abc"
            "10 11 00 06 4D 51 49 73 64 70 03 02 00 0A 00 03 61 62 63"
        },
        {
            "CONNECT 3.1.1 minimal",
            new ConnectPacket { ClientId = "a", KeepAlive = 60 },
            V311,
            // 10 0D | 00 04 "MQTT" | 04 | 02 clean | 00 3C | 00 01 "a"
            "10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 61"
        },
        {
            "CONNECT 3.1.1 from a bridge (Mosquitto try_private)",
            new ConnectPacket { ClientId = "a", KeepAlive = 60, IsBridge = true },
            V311,
            // 10 0D | 00 04 "MQTT" | 84 = level 4 with the bridge bit 80 | 02 clean | 00 3C | 00 01 "a"
            "10 0D 00 04 4D 51 54 54 84 02 00 3C 00 01 61"
        },
        {
            "CONNECT 3.1.1 will, username, password",
            new ConnectPacket
            {
                ClientId = "c1",
                KeepAlive = 60,
                Username = "u",
                Password = B("p"),
                Will = new WillMessage { Topic = "w", Payload = B("bye"), QoS = MqttQoS.AtLeastOnce, Retain = true },
            },
            V311,
            // 10 1C | 00 04 "MQTT" | 04 | EE = user 80 | password 40 | will retain 20 | will QoS1 08 | will 04 | clean 02
            // | 00 3C | 00 02 "c1" | 00 01 "w" | 00 03 "bye" | 00 01 "u" | 00 01 "p"
            "10 1C 00 04 4D 51 54 54 04 EE 00 3C 00 02 63 31 00 01 77 00 03 62 79 65 00 01 75 00 01 70"
        },
        {
            "CONNECT 5.0 properties, will properties, username, password",
            new ConnectPacket
            {
                ProtocolVersion = V500,
                ClientId = "c",
                KeepAlive = 60,
                Username = "u",
                Password = B("p"),
                Properties = new MqttProperties { SessionExpiryInterval = 3600, ReceiveMaximum = 20 },
                Will = new WillMessage
                {
                    Topic = "w",
                    Payload = B("x"),
                    Properties = new MqttProperties { WillDelayInterval = 5 },
                },
            },
            V500,
            // 10 28 | 00 04 "MQTT" | 05 | C6 = user | password | will | clean | 00 3C
            // | 08 properties: 11 00 00 0E 10 session expiry 3600, 21 00 14 receive maximum 20
            // | 00 01 "c" | 05 will properties: 18 00 00 00 05 will delay 5 | 00 01 "w" | 00 01 "x" | 00 01 "u" | 00 01 "p"
            "10 28 00 04 4D 51 54 54 05 C6 00 3C 08 11 00 00 0E 10 21 00 14 00 01 63 05 18 00 00 00 05 00 01 77 00 01 78 00 01 75 00 01 70"
        },
        {
            "CONNECT 3.1.1 spec figure 3.6 variable header (flags CE, keep alive 10)",
            new ConnectPacket
            {
                ClientId = "id",
                KeepAlive = 10,
                Username = "u",
                Password = B("p"),
                Will = new WillMessage { Topic = "w", Payload = B("m"), QoS = MqttQoS.AtLeastOnce },
            },
            V311,
            // 10 1A | 00 04 "MQTT" 04 CE 00 0A (the spec's example) | 00 02 "id" | 00 01 "w" | 00 01 "m" | 00 01 "u" | 00 01 "p"
            "10 1A 00 04 4D 51 54 54 04 CE 00 0A 00 02 69 64 00 01 77 00 01 6D 00 01 75 00 01 70"
        },
        {
            "CONNECT 5.0 spec figure 3-6 variable header (flags C2, session expiry 10)",
            new ConnectPacket
            {
                ProtocolVersion = V500,
                ClientId = "id",
                KeepAlive = 10,
                Username = "u",
                Password = B("p"),
                Properties = new MqttProperties { SessionExpiryInterval = 10 },
            },
            V500,
            // 10 1A | 00 04 "MQTT" 05 C2 00 0A 05 11 00 00 00 0A (the spec's example) | 00 02 "id" | 00 01 "u" | 00 01 "p"
            "10 1A 00 04 4D 51 54 54 05 C2 00 0A 05 11 00 00 00 0A 00 02 69 64 00 01 75 00 01 70"
        },
        { "CONNACK 3.1.1 accepted", new ConnAckPacket(), V311, "20 02 00 00" },
        { "CONNACK 3.1.1 session present, not authorized", new ConnAckPacket { SessionPresent = true, ReasonCode = 5 }, V311, "20 02 01 05" },
        { "CONNACK 5.0 no properties", new ConnAckPacket(), V500, "20 03 00 00 00" },
        {
            "CONNACK 5.0 properties",
            new ConnAckPacket
            {
                SessionPresent = true,
                Properties = new MqttProperties { AssignedClientIdentifier = "id", TopicAliasMaximum = 10 },
            },
            V500,
            // 20 0B | 01 session present | 00 success | 08 properties: 12 00 02 "id" assigned id, 22 00 0A topic alias max 10
            "20 0B 01 00 08 12 00 02 69 64 22 00 0A"
        },
        {
            "PUBLISH 3.1.1 QoS 0",
            new PublishPacket { Topic = "a/b", Payload = B("hi") },
            V311,
            // 30 07 | 00 03 "a/b" | "hi"
            "30 07 00 03 61 2F 62 68 69"
        },
        {
            "PUBLISH 3.1.1 QoS 1",
            new PublishPacket { Topic = "a/b", Payload = B("hi"), QoS = MqttQoS.AtLeastOnce, PacketId = 10 },
            V311,
            // 32 (QoS 1) 09 | 00 03 "a/b" | 00 0A packet id | "hi"
            "32 09 00 03 61 2F 62 00 0A 68 69"
        },
        {
            "PUBLISH 3.1.1 QoS 2 retain dup",
            new PublishPacket { Topic = "a/b", Payload = B("hi"), QoS = MqttQoS.ExactlyOnce, PacketId = 10, Retain = true, Dup = true },
            V311,
            // 3D = 30 | dup 08 | QoS2 04 | retain 01
            "3D 09 00 03 61 2F 62 00 0A 68 69"
        },
        {
            "PUBLISH 5.0 QoS 0 without properties",
            new PublishPacket { Topic = "a/b", Payload = B("hi") },
            V500,
            // 30 08 | 00 03 "a/b" | 00 property length | "hi"
            "30 08 00 03 61 2F 62 00 68 69"
        },
        {
            "PUBLISH 5.0 QoS 1 with properties",
            new PublishPacket
            {
                Topic = "a/b",
                Payload = B("hi"),
                QoS = MqttQoS.AtLeastOnce,
                PacketId = 10,
                Properties = new MqttProperties { PayloadFormatIndicator = 1, MessageExpiryInterval = 60, TopicAlias = 5 },
            },
            V500,
            // 32 14 | 00 03 "a/b" | 00 0A | 0A properties: 01 01 UTF-8 payload, 02 00 00 00 3C expiry 60, 23 00 05 alias 5 | "hi"
            "32 14 00 03 61 2F 62 00 0A 0A 01 01 02 00 00 00 3C 23 00 05 68 69"
        },
        {
            "PUBLISH 5.0 QoS 2 with user properties and subscription identifiers",
            new PublishPacket
            {
                Topic = "t",
                QoS = MqttQoS.ExactlyOnce,
                PacketId = 1,
                Properties = new MqttProperties
                {
                    SubscriptionIdentifiers = [1, 128],
                    UserProperties = [new("k", "v"), new("k", "w")],
                },
            },
            V500,
            // 34 19 | 00 01 "t" | 00 01 | 13 properties: 0B 01, 0B 80 01 (128), 26 00 01 "k" 00 01 "v", 26 00 01 "k" 00 01 "w"
            "34 19 00 01 74 00 01 13 0B 01 0B 80 01 26 00 01 6B 00 01 76 26 00 01 6B 00 01 77"
        },
        { "PUBACK 3.1.1", new PubAckPacket { PacketId = 10 }, V311, "40 02 00 0A" },
        { "PUBREC 3.1.1", new PubRecPacket { PacketId = 10 }, V311, "50 02 00 0A" },
        { "PUBREL 3.1.1 (flags 0010)", new PubRelPacket { PacketId = 10 }, V311, "62 02 00 0A" },
        { "PUBCOMP 3.1.1", new PubCompPacket { PacketId = 10 }, V311, "70 02 00 0A" },
        { "PUBACK 5.0 success short form", new PubAckPacket { PacketId = 10 }, V500, "40 02 00 0A" },
        { "PUBACK 5.0 no matching subscribers", new PubAckPacket { PacketId = 10, ReasonCode = ReasonCode.NoMatchingSubscribers }, V500, "40 03 00 0A 10" },
        {
            "PUBREC 5.0 reason and reason string",
            new PubRecPacket { PacketId = 10, ReasonCode = ReasonCode.UnspecifiedError, Properties = new MqttProperties { ReasonString = "x" } },
            V500,
            // 50 08 | 00 0A | 80 | 04 properties: 1F 00 01 "x"
            "50 08 00 0A 80 04 1F 00 01 78"
        },
        { "PUBREL 5.0 success", new PubRelPacket { PacketId = 10 }, V500, "62 02 00 0A" },
        { "PUBCOMP 5.0 packet id not found", new PubCompPacket { PacketId = 10, ReasonCode = ReasonCode.PacketIdentifierNotFound }, V500, "70 03 00 0A 92" },
        {
            "SUBSCRIBE 3.1.1",
            new SubscribePacket
            {
                PacketId = 1,
                Subscriptions = [new("a/b", new(MqttQoS.AtLeastOnce)), new("c/#", new(MqttQoS.ExactlyOnce))],
            },
            V311,
            // 82 0E | 00 01 | 00 03 "a/b" 01 | 00 03 "c/#" 02
            "82 0E 00 01 00 03 61 2F 62 01 00 03 63 2F 23 02"
        },
        {
            "SUBSCRIBE 5.0 options and subscription identifier",
            new SubscribePacket
            {
                PacketId = 1,
                Properties = new MqttProperties { SubscriptionIdentifiers = [200] },
                Subscriptions = [new("a", new(MqttQoS.AtLeastOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2))],
            },
            V500,
            // 82 0A | 00 01 | 03 properties: 0B C8 01 (200) | 00 01 "a" | 2D = retain handling 2 (20) | RAP 08 | NL 04 | QoS 1
            "82 0A 00 01 03 0B C8 01 00 01 61 2D"
        },
        { "SUBACK 3.1.1", new SubAckPacket { PacketId = 1, ReasonCodes = [1, 2, 0x80] }, V311, "90 05 00 01 01 02 80" },
        { "SUBACK 5.0", new SubAckPacket { PacketId = 1, ReasonCodes = [1, 2, 0x8F] }, V500, "90 06 00 01 00 01 02 8F" },
        {
            "UNSUBSCRIBE 3.1.1",
            new UnsubscribePacket { PacketId = 2, Filters = ["a/b", "c"] },
            V311,
            // A2 0A | 00 02 | 00 03 "a/b" | 00 01 "c"
            "A2 0A 00 02 00 03 61 2F 62 00 01 63"
        },
        { "UNSUBSCRIBE 5.0", new UnsubscribePacket { PacketId = 2, Filters = ["a/b", "c"] }, V500, "A2 0B 00 02 00 00 03 61 2F 62 00 01 63" },
        { "UNSUBACK 3.1.1", new UnsubAckPacket { PacketId = 2 }, V311, "B0 02 00 02" },
        { "UNSUBACK 5.0", new UnsubAckPacket { PacketId = 2, ReasonCodes = [0x00, 0x11] }, V500, "B0 05 00 02 00 00 11" },
        { "PINGREQ", PingReqPacket.Instance, V311, "C0 00" },
        { "PINGRESP", PingRespPacket.Instance, V311, "D0 00" },
        { "PINGREQ 5.0", PingReqPacket.Instance, V500, "C0 00" },
        { "DISCONNECT 3.1.1", DisconnectPacket.Normal, V311, "E0 00" },
        { "DISCONNECT 5.0 normal short form", DisconnectPacket.Normal, V500, "E0 00" },
        { "DISCONNECT 5.0 session taken over", new DisconnectPacket { ReasonCode = ReasonCode.SessionTakenOver }, V500, "E0 01 8E" },
        {
            "DISCONNECT 5.0 with will and session expiry",
            new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage, Properties = new MqttProperties { SessionExpiryInterval = 0 } },
            V500,
            // E0 07 | 04 | 05 properties: 11 00 00 00 00
            "E0 07 04 05 11 00 00 00 00"
        },
        { "AUTH 5.0 success short form", new AuthPacket(), V500, "F0 00" },
        {
            "AUTH 5.0 continue",
            new AuthPacket
            {
                ReasonCode = ReasonCode.ContinueAuthentication,
                Properties = new MqttProperties { AuthenticationMethod = "SCRAM", AuthenticationData = new byte[] { 1, 2 } },
            },
            V500,
            // F0 0F | 18 continue | 0D properties: 15 00 05 "SCRAM", 16 00 02 01 02
            "F0 0F 18 0D 15 00 05 53 43 52 41 4D 16 00 02 01 02"
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encodes_to_golden_bytes(string name, MqttPacket packet, MqttProtocolVersion version, string hex)
    {
        byte[] expected = TestUtil.Hex(hex);
        Assert.True(expected.Length > 0, name);
        Assert.Equal(TestUtil.ToHex(expected), TestUtil.ToHex(MqttEncoder.ToArray(packet, version)));
        Assert.Equal(expected.Length, MqttEncoder.GetSize(packet, version));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decodes_golden_bytes(string name, MqttPacket packet, MqttProtocolVersion version, string hex)
    {
        byte[] bytes = TestUtil.Hex(hex);
        MqttPacket decoded = TestUtil.Decode(bytes, version);
        Assert.Equal(packet.Type, decoded.Type);
        Assert.True(hex.Length > 0, name);
        Assert.Equal(TestUtil.ToHex(bytes), TestUtil.ToHex(MqttEncoder.ToArray(decoded, version)));
    }

    [Fact]
    public void Decodes_connect_3_1_fields()
    {
        var p = (ConnectPacket)TestUtil.Decode(TestUtil.Hex("10 11 00 06 4D 51 49 73 64 70 03 02 00 0A 00 03 61 62 63"), V311);
        Assert.Equal(V310, p.ProtocolVersion);
        Assert.Equal("abc", p.ClientId);
        Assert.True(p.CleanSession);
        Assert.Equal(10, p.KeepAlive);
        Assert.Null(p.Will);
        Assert.Null(p.Username);
        Assert.Null(p.Password);
    }

    [Fact]
    public void Decodes_connect_5_0_fields()
    {
        var p = (ConnectPacket)TestUtil.Decode(TestUtil.Hex(
            "10 28 00 04 4D 51 54 54 05 C6 00 3C 08 11 00 00 0E 10 21 00 14 00 01 63 05 18 00 00 00 05 00 01 77 00 01 78 00 01 75 00 01 70"),
            V311);
        Assert.Equal(V500, p.ProtocolVersion);
        Assert.Equal("c", p.ClientId);
        Assert.Equal(60, p.KeepAlive);
        Assert.Equal(3600u, p.Properties!.SessionExpiryInterval);
        Assert.Equal((ushort)20, p.Properties.ReceiveMaximum);
        Assert.Equal("w", p.Will!.Topic);
        Assert.Equal("x", Encoding.UTF8.GetString(p.Will.Payload.Span));
        Assert.Equal(5u, p.Will.Properties!.WillDelayInterval);
        Assert.Equal("u", p.Username);
        Assert.Equal("p", Encoding.UTF8.GetString(p.Password!.Value.Span));
    }

    [Fact]
    public void Decodes_connect_3_1_1_will_flags()
    {
        var p = (ConnectPacket)TestUtil.Decode(TestUtil.Hex(
            "10 1C 00 04 4D 51 54 54 04 EE 00 3C 00 02 63 31 00 01 77 00 03 62 79 65 00 01 75 00 01 70"), V311);
        Assert.Equal(MqttQoS.AtLeastOnce, p.Will!.QoS);
        Assert.True(p.Will.Retain);
        Assert.Equal("bye", Encoding.UTF8.GetString(p.Will.Payload.Span));
    }

    [Fact]
    public void Decodes_publish_fields()
    {
        var p = (PublishPacket)TestUtil.Decode(TestUtil.Hex("3D 09 00 03 61 2F 62 00 0A 68 69"), V311);
        Assert.Equal("a/b", p.Topic);
        Assert.Equal(MqttQoS.ExactlyOnce, p.QoS);
        Assert.True(p.Retain);
        Assert.True(p.Dup);
        Assert.Equal(10, p.PacketId);
        Assert.Equal("hi", Encoding.UTF8.GetString(p.Payload.Span));
    }

    [Fact]
    public void Decodes_subscribe_5_0_options()
    {
        var p = (SubscribePacket)TestUtil.Decode(TestUtil.Hex("82 0A 00 01 03 0B C8 01 00 01 61 2D"), V500);
        Assert.Equal([200u], p.Properties!.SubscriptionIdentifiers!);
        TopicSubscription s = Assert.Single(p.Subscriptions);
        Assert.Equal(new TopicSubscription("a", new(MqttQoS.AtLeastOnce, true, true, 2)), s);
    }

    [Fact]
    public void Decodes_5_0_ack_with_reason_code_but_no_property_length()
    {
        var p = (PubAckPacket)TestUtil.Decode(TestUtil.Hex("40 03 00 0A 10"), V500);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, p.ReasonCode);
        Assert.Null(p.Properties);
    }

    [Fact]
    public void Decodes_5_0_ack_with_empty_property_list()
    {
        var p = (PubAckPacket)TestUtil.Decode(TestUtil.Hex("40 04 00 0A 00 00"), V500);
        Assert.Equal(ReasonCode.Success, p.ReasonCode);
        Assert.Null(p.Properties);
    }
}
