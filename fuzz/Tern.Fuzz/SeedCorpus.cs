using System.Text;
using Tern.Protocol;

namespace Tern.Fuzz;

/// <summary>
/// The seed corpus: valid packets of every type in every version, encoded by <see cref="MqttEncoder"/>,
/// plus a few client sessions (several packets in a row). Each seed is a selector byte and wire bytes
/// (see <see cref="FuzzInput"/>); CONNECT seeds are sent raw to the broker target, the others after
/// its valid CONNECT.
/// </summary>
public static class SeedCorpus
{
    private static readonly MqttProtocolVersion[] Versions = [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500];

    public static IReadOnlyList<(string Name, byte[] Bytes)> Generate()
    {
        var seeds = new List<(string, byte[])>();
        foreach (var version in Versions)
        {
            var v = version switch
            {
                MqttProtocolVersion.V310 => "v3",
                MqttProtocolVersion.V311 => "v4",
                _ => "v5",
            };
            var v5 = version == MqttProtocolVersion.V500;
            foreach (var (name, packet) in Packets(version))
            {
                var isConnect = packet is ConnectPacket;
                seeds.Add(($"{v}-{name}", [FuzzInput.Selector(version, connectPrefix: !isConnect), .. MqttEncoder.ToArray(packet, version)]));
            }

            // Client sessions: several packets in one input.
            seeds.Add(($"{v}-session-subscribe-publish", Concat(version, connectPrefix: true,
                new SubscribePacket { PacketId = 1, Subscriptions = [new("fuzz/#", new SubscriptionOptions(MqttQoS.ExactlyOnce))] },
                new PublishPacket { Topic = "fuzz/a", Payload = Bytes("q0"), Retain = true },
                new PublishPacket { Topic = "fuzz/b", Payload = Bytes("q1"), QoS = MqttQoS.AtLeastOnce, PacketId = 2 },
                new PublishPacket { Topic = "fuzz/c", Payload = Bytes("q2"), QoS = MqttQoS.ExactlyOnce, PacketId = 3 },
                new PubRelPacket { PacketId = 3 },
                new PubAckPacket { PacketId = 1 },
                new PubRecPacket { PacketId = 2 },
                new PubCompPacket { PacketId = 2 },
                new UnsubscribePacket { PacketId = 4, Filters = ["fuzz/#"] },
                PingReqPacket.Instance,
                DisconnectPacket.Normal)));
            seeds.Add(($"{v}-session-connect-will-publish", Concat(version, connectPrefix: false,
                new ConnectPacket
                {
                    ProtocolVersion = version,
                    ClientId = "seed-session",
                    CleanSession = false,
                    KeepAlive = 30,
                    Will = new WillMessage { Topic = "will/t", Payload = Bytes("bye"), QoS = MqttQoS.AtLeastOnce },
                },
                new SubscribePacket { PacketId = 7, Subscriptions = [new("will/+", new SubscriptionOptions(MqttQoS.AtLeastOnce))] },
                new PublishPacket { Topic = "will/x", Payload = Bytes("hello"), QoS = MqttQoS.AtLeastOnce, PacketId = 8 })));
            if (v5)
            {
                seeds.Add(($"{v}-session-topic-alias", Concat(version, connectPrefix: true,
                    new SubscribePacket
                    {
                        PacketId = 1,
                        Subscriptions = [new("alias/#", new SubscriptionOptions(MqttQoS.AtLeastOnce, RetainAsPublished: true))],
                        Properties = new MqttProperties { SubscriptionIdentifiers = [42] },
                    },
                    new PublishPacket { Topic = "alias/1", Payload = Bytes("a"), Properties = new MqttProperties { TopicAlias = 1 } },
                    new PublishPacket { Topic = "", Payload = Bytes("b"), QoS = MqttQoS.AtLeastOnce, PacketId = 2, Properties = new MqttProperties { TopicAlias = 1 } },
                    new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage, Properties = new MqttProperties { SessionExpiryInterval = 0 } })));
                seeds.Add(($"{v}-session-enhanced-auth", Concat(version, connectPrefix: false,
                    new ConnectPacket
                    {
                        ProtocolVersion = version,
                        ClientId = "seed-auth",
                        Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256", AuthenticationData = Bytes("n,,n=user,r=nonce") },
                    },
                    new AuthPacket { ReasonCode = ReasonCode.ContinueAuthentication, Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256", AuthenticationData = Bytes("c=biws") } })));
            }
        }

        // A few malformed edge cases the mutator would take long to reach.
        seeds.Add(("v4-remaining-length-5-bytes", [FuzzInput.Selector(MqttProtocolVersion.V311, true), 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]));
        seeds.Add(("v4-header-split-segments", [(byte)(FuzzInput.Selector(MqttProtocolVersion.V311) | (1 << 3)), .. MqttEncoder.ToArray(new PublishPacket { Topic = "s", Payload = new byte[200] }, MqttProtocolVersion.V311)]));
        seeds.Add(("v5-small-max-packet-size", [(byte)(FuzzInput.Selector(MqttProtocolVersion.V500) | FuzzInput.SmallMaxPacketSizeBit), .. MqttEncoder.ToArray(new PublishPacket { Topic = "t", Payload = new byte[100] }, MqttProtocolVersion.V500)]));
        return seeds;
    }

    /// <summary>Writes the seeds to <paramref name="directory"/> as NAME.bin, removing stale .bin files.</summary>
    public static int Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var seeds = Generate();
        var names = seeds.Select(s => s.Name + ".bin").ToHashSet(StringComparer.Ordinal);
        foreach (var stale in Directory.GetFiles(directory, "*.bin").Where(f => !names.Contains(Path.GetFileName(f))))
        {
            File.Delete(stale);
        }

        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name + ".bin"), bytes);
        }

        return seeds.Count;
    }

    private static IEnumerable<(string, MqttPacket)> Packets(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        MqttProperties? P(MqttProperties p) => v5 ? p : null;
        var user = new MqttUserProperty[] { new("k", "v"), new("k", "v2") };

        yield return ("connect-minimal", new ConnectPacket { ProtocolVersion = version, ClientId = "c1" });
        yield return ("connect-empty-client-id", new ConnectPacket { ProtocolVersion = version, ClientId = "", CleanSession = true });
        yield return ("connect-credentials", new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "c2",
            CleanSession = false,
            KeepAlive = 60,
            Username = "user",
            Password = Bytes("secret"),
        });
        yield return ("connect-will", new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "c3",
            KeepAlive = 10,
            Username = "u",
            Password = Bytes("p"),
            Will = new WillMessage
            {
                Topic = "will/topic",
                Payload = Bytes("gone"),
                QoS = MqttQoS.ExactlyOnce,
                Retain = true,
                Properties = P(new MqttProperties
                {
                    WillDelayInterval = 5,
                    PayloadFormatIndicator = 1,
                    MessageExpiryInterval = 100,
                    ContentType = "text/plain",
                    ResponseTopic = "reply/to",
                    CorrelationData = Bytes("corr"),
                    UserProperties = user,
                }),
            },
            Properties = P(new MqttProperties
            {
                SessionExpiryInterval = 3600,
                ReceiveMaximum = 10,
                MaximumPacketSize = 65536,
                TopicAliasMaximum = 5,
                RequestResponseInformation = 1,
                RequestProblemInformation = 0,
                UserProperties = user,
            }),
        });

        yield return ("connack", new ConnAckPacket { SessionPresent = true, ReasonCode = 0, Properties = P(new MqttProperties { AssignedClientIdentifier = "auto-1", ServerKeepAlive = 30, ReceiveMaximum = 100, MaximumQoS = 1, RetainAvailable = 1, MaximumPacketSize = 1000, TopicAliasMaximum = 10, WildcardSubscriptionAvailable = 1, SubscriptionIdentifierAvailable = 1, SharedSubscriptionAvailable = 1, ResponseInformation = "resp", ServerReference = "other", ReasonString = "ok", UserProperties = user }) });
        yield return ("connack-refused", new ConnAckPacket { ReasonCode = v5 ? (byte)ReasonCode.NotAuthorized : (byte)5 });

        yield return ("publish-qos0", new PublishPacket { Topic = "a/b", Payload = Bytes("hello") });
        yield return ("publish-qos0-empty", new PublishPacket { Topic = "a", Retain = true });
        yield return ("publish-qos1", new PublishPacket { Topic = "a/b/c", Payload = Bytes("one"), QoS = MqttQoS.AtLeastOnce, PacketId = 1, Dup = true });
        yield return ("publish-qos2-retain", new PublishPacket
        {
            Topic = "sensors/temp",
            Payload = Bytes("21.5"),
            QoS = MqttQoS.ExactlyOnce,
            PacketId = 65535,
            Retain = true,
            Properties = P(new MqttProperties
            {
                PayloadFormatIndicator = 1,
                MessageExpiryInterval = 60,
                TopicAlias = 2,
                ResponseTopic = "reply",
                CorrelationData = Bytes("c"),
                ContentType = "text/plain",
                UserProperties = user,
            }),
        });
        if (v5)
        {
            yield return ("publish-subscription-ids", new PublishPacket { Topic = "x", QoS = MqttQoS.AtLeastOnce, PacketId = 9, Properties = new MqttProperties { SubscriptionIdentifiers = [1, 268_435_455] } });
        }

        var ackProps = P(new MqttProperties { ReasonString = "why", UserProperties = user });
        yield return ("puback", new PubAckPacket { PacketId = 1 });
        yield return ("puback-reason", new PubAckPacket { PacketId = 2, ReasonCode = v5 ? ReasonCode.NoMatchingSubscribers : 0, Properties = ackProps });
        yield return ("pubrec", new PubRecPacket { PacketId = 3, ReasonCode = v5 ? ReasonCode.QuotaExceeded : 0, Properties = ackProps });
        yield return ("pubrel", new PubRelPacket { PacketId = 3, ReasonCode = v5 ? ReasonCode.PacketIdentifierNotFound : 0, Properties = ackProps });
        yield return ("pubcomp", new PubCompPacket { PacketId = 3 });

        yield return ("subscribe", new SubscribePacket
        {
            PacketId = 10,
            Subscriptions =
            [
                new("a/+/c", new SubscriptionOptions(MqttQoS.AtMostOnce)),
                new("a/#", new SubscriptionOptions(MqttQoS.AtLeastOnce, NoLocal: v5, RetainAsPublished: v5, RetainHandling: (byte)(v5 ? 2 : 0))),
                new("$share/g/t", new SubscriptionOptions(MqttQoS.ExactlyOnce)),
            ],
            Properties = P(new MqttProperties { SubscriptionIdentifiers = [7], UserProperties = user }),
        });
        yield return ("suback", new SubAckPacket { PacketId = 10, ReasonCodes = [0, 1, 2, 0x80], Properties = ackProps });
        yield return ("unsubscribe", new UnsubscribePacket { PacketId = 11, Filters = ["a/+/c", "a/#"], Properties = P(new MqttProperties { UserProperties = user }) });
        yield return ("unsuback", new UnsubAckPacket { PacketId = 11, ReasonCodes = v5 ? [0, 0x11] : [], Properties = ackProps });
        yield return ("pingreq", PingReqPacket.Instance);
        yield return ("pingresp", PingRespPacket.Instance);
        yield return ("disconnect", DisconnectPacket.Normal);
        if (v5)
        {
            yield return ("disconnect-reason", new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage, Properties = new MqttProperties { SessionExpiryInterval = 10, ReasonString = "bye", ServerReference = "s", UserProperties = user } });
            yield return ("auth", new AuthPacket { ReasonCode = ReasonCode.ReAuthenticate, Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-1", AuthenticationData = Bytes("data"), ReasonString = "r", UserProperties = user } });
        }
    }

    private static byte[] Concat(MqttProtocolVersion version, bool connectPrefix, params MqttPacket[] packets)
    {
        var bytes = new List<byte> { FuzzInput.Selector(version, connectPrefix) };
        foreach (var packet in packets)
        {
            bytes.AddRange(MqttEncoder.ToArray(packet, version));
        }

        return [.. bytes];
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);
}
