using System.Buffers;
using System.Text;

namespace Tern.Protocol.Tests;

/// <summary>Encode → decode → encode for every packet type and version, over contiguous and segmented input.</summary>
public class RoundTripTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static readonly MqttProperties AllPublishProperties = new()
    {
        PayloadFormatIndicator = 1,
        MessageExpiryInterval = 3600,
        ContentType = "application/json",
        ResponseTopic = "reply/ü",
        CorrelationData = new byte[] { 9, 8, 7 },
        SubscriptionIdentifiers = [1, 268_435_455],
        TopicAlias = 7,
        UserProperties = [new("a", "1"), new("b", "2"), new("a", "3")],
    };

    private static readonly MqttProperties AllConnAckProperties = new()
    {
        SessionExpiryInterval = 10,
        AssignedClientIdentifier = "auto-1",
        ServerKeepAlive = 30,
        AuthenticationMethod = "SCRAM-SHA-1",
        AuthenticationData = new byte[] { 1 },
        ResponseInformation = "resp",
        ServerReference = "other:1883",
        ReasonString = "ok",
        ReceiveMaximum = 100,
        TopicAliasMaximum = 10,
        MaximumQoS = 1,
        RetainAvailable = 0,
        UserProperties = [new("k", "v")],
        MaximumPacketSize = 1_048_576,
        WildcardSubscriptionAvailable = 1,
        SubscriptionIdentifierAvailable = 1,
        SharedSubscriptionAvailable = 0,
    };

    public static IEnumerable<MqttPacket> PacketsFor(MqttProtocolVersion v)
    {
        bool v5 = v == MqttProtocolVersion.V500;
        MqttProperties? ack = v5 ? new MqttProperties { ReasonString = "why", UserProperties = [new("x", "y")] } : null;
        ReasonCode rc = v5 ? ReasonCode.UnspecifiedError : ReasonCode.Success;
        yield return new ConnectPacket
        {
            ProtocolVersion = v,
            ClientId = "client-ñ",
            CleanSession = false,
            KeepAlive = 120,
            Username = "user",
            Password = B("secret"),
            Properties = v5 ? new MqttProperties
            {
                SessionExpiryInterval = 60,
                AuthenticationMethod = "m",
                AuthenticationData = new byte[] { 1, 2 },
                RequestProblemInformation = 0,
                RequestResponseInformation = 1,
                ReceiveMaximum = 10,
                TopicAliasMaximum = 5,
                UserProperties = [new("u", "p")],
                MaximumPacketSize = 2048,
            } : null,
            Will = new WillMessage
            {
                Topic = "status/device-1",
                Payload = B("offline"),
                QoS = MqttQoS.ExactlyOnce,
                Retain = true,
                Properties = v5 ? new MqttProperties
                {
                    PayloadFormatIndicator = 1,
                    MessageExpiryInterval = 5,
                    ContentType = "text/plain",
                    ResponseTopic = "r",
                    CorrelationData = new byte[] { 4 },
                    WillDelayInterval = 30,
                    UserProperties = [new("w", "1")],
                } : null,
            },
        };
        yield return new ConnectPacket { ProtocolVersion = v, ClientId = "" };
        yield return new ConnAckPacket { SessionPresent = v != MqttProtocolVersion.V310, ReasonCode = 0, Properties = v5 ? AllConnAckProperties : null };
        yield return new PublishPacket { Topic = "a/b/c", Payload = B("hello") };
        yield return new PublishPacket { Topic = "a/b/c", Payload = new byte[70_000], QoS = MqttQoS.AtLeastOnce, PacketId = 1, Retain = true };
        yield return new PublishPacket
        {
            Topic = "日本/温度",
            Payload = B("22.5"),
            QoS = MqttQoS.ExactlyOnce,
            PacketId = 65535,
            Dup = true,
            Properties = v5 ? AllPublishProperties : null,
        };
        yield return new PubAckPacket { PacketId = 1, ReasonCode = rc, Properties = ack };
        yield return new PubRecPacket { PacketId = 2, ReasonCode = rc, Properties = ack };
        yield return new PubRelPacket { PacketId = 3, ReasonCode = v5 ? ReasonCode.PacketIdentifierNotFound : rc };
        yield return new PubCompPacket { PacketId = 4, Properties = ack };
        yield return new SubscribePacket
        {
            PacketId = 5,
            Properties = v5 ? new MqttProperties { SubscriptionIdentifiers = [42], UserProperties = [new("s", "1")] } : null,
            Subscriptions =
            [
                new("sensors/+/temp", new(MqttQoS.AtLeastOnce)),
                new("#", new(MqttQoS.ExactlyOnce, v5, v5, (byte)(v5 ? 1 : 0))),
                new("$share/g/x", new(MqttQoS.AtMostOnce)),
            ],
        };
        yield return new SubAckPacket { PacketId = 5, ReasonCodes = [1, 2, 0x80], Properties = ack };
        yield return new UnsubscribePacket { PacketId = 6, Filters = ["sensors/+/temp", "#"], Properties = v5 ? new MqttProperties { UserProperties = [new("k", "v")] } : null };
        yield return v5
            ? new UnsubAckPacket { PacketId = 6, ReasonCodes = [0x00, 0x11], Properties = ack }
            : new UnsubAckPacket { PacketId = 6 };
        yield return PingReqPacket.Instance;
        yield return PingRespPacket.Instance;
        yield return DisconnectPacket.Normal;
        if (v5)
        {
            yield return new DisconnectPacket
            {
                ReasonCode = ReasonCode.ServerMoved,
                Properties = new MqttProperties { SessionExpiryInterval = 0, ReasonString = "bye", ServerReference = "b:1883" },
            };
            yield return new AuthPacket { ReasonCode = ReasonCode.ReAuthenticate, Properties = new MqttProperties { AuthenticationMethod = "m", AuthenticationData = new byte[] { 5 } } };
            yield return new AuthPacket();
        }
    }

    public static TheoryData<MqttProtocolVersion, int> Cases()
    {
        var data = new TheoryData<MqttProtocolVersion, int>();
        foreach (MqttProtocolVersion v in new[] { MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500 })
        {
            int count = PacketsFor(v).Count();
            for (int i = 0; i < count; i++)
            {
                data.Add(v, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Round_trips_contiguous(MqttProtocolVersion version, int index)
    {
        MqttPacket packet = PacketsFor(version).ElementAt(index);
        byte[] bytes = MqttEncoder.ToArray(packet, version);
        Assert.Equal(bytes.Length, MqttEncoder.GetSize(packet, version));
        MqttPacket decoded = TestUtil.Decode(bytes, version);
        Assert.Equal(packet.GetType(), decoded.GetType());
        Assert.Equal(TestUtil.ToHex(bytes), TestUtil.ToHex(MqttEncoder.ToArray(decoded, version)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Round_trips_one_byte_segments(MqttProtocolVersion version, int index)
    {
        MqttPacket packet = PacketsFor(version).ElementAt(index);
        byte[] bytes = MqttEncoder.ToArray(packet, version);
        MqttPacket decoded = TestUtil.Decode(TestUtil.Segmented(bytes, () => 1), version);
        Assert.Equal(TestUtil.ToHex(bytes), TestUtil.ToHex(MqttEncoder.ToArray(decoded, version)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Round_trips_random_segments(MqttProtocolVersion version, int index)
    {
        MqttPacket packet = PacketsFor(version).ElementAt(index);
        byte[] bytes = MqttEncoder.ToArray(packet, version);
        for (int seed = 0; seed < 20; seed++)
        {
            var random = new Random(seed);
            MqttPacket decoded = TestUtil.Decode(TestUtil.Segmented(bytes, () => random.Next(1, 12)), version);
            Assert.Equal(TestUtil.ToHex(bytes), TestUtil.ToHex(MqttEncoder.ToArray(decoded, version)));
        }
    }

    [Fact]
    public void Decodes_a_stream_of_packets_arriving_byte_by_byte()
    {
        MqttProtocolVersion v = MqttProtocolVersion.V500;
        var writer = new ArrayBufferWriter<byte>();
        // Skip the 70 kB PUBLISH: re-slicing it per byte would make this test quadratic.
        List<MqttPacket> packets = PacketsFor(v).Where(p => MqttEncoder.GetSize(p, v) < 1000).ToList();
        foreach (MqttPacket p in packets)
        {
            MqttEncoder.Write(writer, p, v);
        }

        byte[] all = writer.WrittenSpan.ToArray();
        var decoded = new List<MqttPacket>();
        int available = 0;
        int consumed = 0;
        while (available < all.Length)
        {
            available++;
            ReadOnlySequence<byte> buffer = TestUtil.Segmented(all[consumed..available], () => 3);
            long before = buffer.Length;
            while (MqttDecoder.TryRead(ref buffer, v, int.MaxValue, out MqttPacket? packet))
            {
                decoded.Add(packet!);
            }

            consumed += (int)(before - buffer.Length);
        }

        Assert.Equal(packets.Select(p => p.Type), decoded.Select(p => p.Type));
        Assert.Equal(all.Length, consumed);
    }

    [Fact]
    public void Decoded_payload_is_a_copy_of_the_input()
    {
        byte[] bytes = TestUtil.Hex("30 07 00 03 61 2F 62 68 69");
        var p = (PublishPacket)TestUtil.Decode(bytes, MqttProtocolVersion.V311);
        bytes[^1] = 0;
        Assert.Equal("hi", Encoding.UTF8.GetString(p.Payload.Span));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQoS.AtMostOnce, false)]
    [InlineData(MqttProtocolVersion.V311, MqttQoS.AtLeastOnce, true)]
    [InlineData(MqttProtocolVersion.V500, MqttQoS.ExactlyOnce, true)]
    [InlineData(MqttProtocolVersion.V500, MqttQoS.AtMostOnce, false)]
    public void WritePublish_matches_Write_of_a_PublishPacket(MqttProtocolVersion version, MqttQoS qos, bool withProperties)
    {
        MqttProperties? properties = withProperties && version == MqttProtocolVersion.V500 ? AllPublishProperties : null;
        var packet = new PublishPacket
        {
            Topic = "a/ü",
            Payload = new byte[5000],
            QoS = qos,
            Retain = true,
            Dup = qos != MqttQoS.AtMostOnce,
            PacketId = qos == MqttQoS.AtMostOnce ? (ushort)0 : (ushort)77,
            Properties = properties,
        };
        byte[] expected = MqttEncoder.ToArray(packet, version);

        var writer = new ArrayBufferWriter<byte>(16);
        byte[] topic = B(packet.Topic);
        MqttEncoder.WritePublish(writer, version, topic, packet.Payload.Span, qos, true, packet.Dup, packet.PacketId, properties);
        Assert.Equal(TestUtil.ToHex(expected), TestUtil.ToHex(writer.WrittenSpan));
        Assert.Equal(expected.Length, MqttEncoder.GetPublishSize(version, topic.Length, packet.Payload.Length, qos, properties));
    }

    [Fact]
    public void Encoder_refuses_packets_a_receiver_would_reject()
    {
        var writer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => MqttEncoder.Write(writer, new PublishPacket { Topic = "t", QoS = MqttQoS.AtLeastOnce }, MqttProtocolVersion.V311));
        Assert.Throws<ArgumentException>(() => MqttEncoder.Write(writer, new PublishPacket { Topic = "t", Dup = true }, MqttProtocolVersion.V311));
        Assert.Throws<ArgumentException>(() => MqttEncoder.Write(writer, new AuthPacket(), MqttProtocolVersion.V311));
        Assert.Throws<ArgumentException>(() => MqttEncoder.Write(writer, new PublishPacket { Topic = new string('x', 70_000) }, MqttProtocolVersion.V311));
    }
}
