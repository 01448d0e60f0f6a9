using System.Text.Unicode;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private bool IsV5 => Version == MqttProtocolVersion.V500;

    private bool HandleConnect(ConnectPacket connect, string? authMethod, ReadOnlyMemory<byte>? authData, string? username, IReadOnlyList<AccessRule>? rules)
    {
        Version = connect.ProtocolVersion;
        var options = _broker.Options;
        var clientId = connect.ClientId;
        string? assignedId = null;

        if (IsV5 && options.Redirect != ServerRedirect.None)
        {
            var code = options.Redirect == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
            return Refuse(ConnectReturnCode.ServerUnavailable, code, "redirected to " + options.ServerReference, new MqttProperties { ServerReference = options.ServerReference });
        }

        if (clientId.Length == 0)
        {
            // 3.1 requires an id; 3.1.1 assigns one only to a clean session [MQTT-3.1.3-7, -8].
            if (Version == MqttProtocolVersion.V310 || (!connect.CleanSession && !IsV5))
            {
                return Refuse(ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid, "empty client id without clean session");
            }

            clientId = assignedId = _broker.AssignClientId();
        }

        if (CheckBans(clientId, username) is { } banned)
        {
            return Refuse(ConnectReturnCode.NotAuthorized, ReasonCode.Banned, banned);
        }

        var properties = connect.Properties;
        var requestedExpiry = IsV5
            ? properties?.SessionExpiryInterval ?? 0
            : connect.CleanSession ? 0 : MqttSession.NeverExpires;

        // Broker:MaxSessionExpirySeconds caps 3.1.1 persistent sessions too (which ask for "never").
        var expiry = Math.Min(requestedExpiry, options.MaxSessionExpirySeconds);
        var inflightLimit = options.MaxInflight;
        if (IsV5)
        {
            if (properties?.ReceiveMaximum is { } receiveMaximum)
            {
                inflightLimit = Math.Min(inflightLimit, receiveMaximum);
            }

            _clientMaximumPacketSize = properties?.MaximumPacketSize is { } max ? (int)Math.Min(max, int.MaxValue) : int.MaxValue;
            _clientTopicAliasMaximum = properties?.TopicAliasMaximum ?? 0;
            _requestProblemInformation = properties?.RequestProblemInformation != 0;
        }

        ClientId = clientId;
        Username = username;
        _identity = CreateIdentity(username, rules);
        KeepAlive = EffectiveKeepAlive(connect.KeepAlive);
        _will = connect.Will;
        IsConnected = true;

        var session = _broker.Sessions.Connect(this, clientId, connect.CleanSession, expiry, out var sessionPresent, out var previous);
        if (session is null)
        {
            IsConnected = false;
            return Refuse(ConnectReturnCode.ServerUnavailable, ReasonCode.QuotaExceeded, $"the broker holds Broker:MaxSessions ({options.MaxSessions}) sessions");
        }

        _session = session;
        session.Identity = _identity;
        if (previous is not null)
        {
            Log.SessionTakenOver(_logger, clientId, previous.RemoteEndPoint);
            previous.Close("session taken over by a new connection", publishWill: true, ReasonCode.SessionTakenOver);
        }

        var connAck = new ConnAckPacket
        {
            // MQTT 3.1 has no session present flag.
            SessionPresent = sessionPresent && Version != MqttProtocolVersion.V310,
            ReasonCode = 0,
            Properties = IsV5
                ? BuildConnAckProperties(assignedId, properties, connect.KeepAlive) with
                {
                    AuthenticationMethod = authMethod,
                    AuthenticationData = authMethod is null ? null : authData,

                    // The client is told when it gets another expiry than it asked for (3.2.2.3.2).
                    SessionExpiryInterval = expiry != requestedExpiry ? expiry : null,
                }
                : null,
        };
        if (!session.Attach(this, connAck, inflightLimit))
        {
            // A newer CONNECT with this client id took the session between the two steps; it closes us.
            _closeReason = "session taken over by a new connection";
            _publishWill = false;
            return false;
        }

        Log.ClientConnected(_logger, clientId, RemoteEndPoint, VersionName(Version), connect.CleanSession, KeepAlive, sessionPresent);
        return true;
    }

    /// <summary>Why the client may not connect (banned, or flapping), or null.</summary>
    private string? CheckBans(string clientId, string? username)
    {
        var bans = _broker.Bans;
        if (bans.IsBanned(BanKind.ClientId, clientId, out var ban) || bans.IsBanned(BanKind.Username, username, out ban))
        {
            return $"banned ({ban!.Reason})";
        }

        if (_broker.Limiter.RecordConnect(clientId, _broker.Time.GetUtcNow()))
        {
            return $"client id {clientId} is flapping and is banned for {_broker.Options.Flapping.BanSeconds} s";
        }

        return null;
    }

    /// <summary>
    /// Broker:ServerKeepAlive caps what MQTT 5 clients ask for (0, "no keep alive", included), as
    /// Mosquitto's max_keepalive does; the client is told in CONNACK [MQTT-3.2.2-21].
    /// </summary>
    private ushort EffectiveKeepAlive(ushort requested)
    {
        if (!IsV5 || _broker.Options.ServerKeepAlive is not { } maximum)
        {
            return requested;
        }

        return requested == 0 || requested > maximum ? (ushort)maximum : requested;
    }

    private MqttProperties BuildConnAckProperties(string? assignedId, MqttProperties? connectProperties, ushort requestedKeepAlive)
    {
        var options = _broker.Options;
        return new MqttProperties
        {
            AssignedClientIdentifier = assignedId,
            ServerKeepAlive = KeepAlive != requestedKeepAlive ? KeepAlive : null,
            ReceiveMaximum = (ushort)options.ReceiveMaximum,
            MaximumPacketSize = (uint)options.MaxPacketSize,
            TopicAliasMaximum = options.TopicAliasMaximum > 0 ? (ushort)options.TopicAliasMaximum : null,
            MaximumQoS = options.MaximumQoS < 2 ? (byte)options.MaximumQoS : null,
            RetainAvailable = options.RetainAvailable ? null : (byte)0,
            WildcardSubscriptionAvailable = options.WildcardSubscriptionAvailable ? null : (byte)0,
            SubscriptionIdentifierAvailable = options.SubscriptionIdentifiersAvailable ? null : (byte)0,
            SharedSubscriptionAvailable = options.SharedSubscriptionAvailable ? null : (byte)0,
            ResponseInformation = connectProperties?.RequestResponseInformation == 1 && options.ResponseInformation.Length > 0
                ? options.ResponseInformation.Replace("{clientid}", ClientId, StringComparison.Ordinal)
                : null,
        };
    }

    /// <summary>Answers CONNECT with a refusal and ends the connection.</summary>
    private bool Refuse(ConnectReturnCode code311, ReasonCode code5, string reason, MqttProperties? properties = null)
    {
        var code = IsV5 ? (byte)code5 : (byte)code311;
        SendControl(new ConnAckPacket { ReasonCode = code, Properties = IsV5 ? (properties ?? new MqttProperties { ReasonString = reason }) : null });
        _closeReason = "connection refused: " + reason;
        _publishWill = false;
        _lingerOnClose = true;
        Log.ConnectionRefused(_logger, RemoteEndPoint, reason);
        return false;
    }

    private void HandlePublish(PublishPacket publish)
    {
        _messagesReceived++;
        var options = _broker.Options;

        var topic = publish.Topic;
        var properties = IsV5 ? publish.Properties : null;
        if (properties is not null)
        {
            topic = ResolveInboundAlias(topic, properties);
            if (properties.SubscriptionIdentifiers is not null)
            {
                throw MqttProtocolException.ProtocolError("a PUBLISH from a client must not carry a subscription identifier");
            }

            if (properties.TopicAlias is not null)
            {
                properties = properties with { TopicAlias = null };
            }

            if (properties.PayloadFormatIndicator == 1 && !Utf8.IsValid(publish.Payload.Span))
            {
                // [MQTT-3.3.2-4] the payload must be UTF-8 when the format indicator says so.
                if (publish.QoS == MqttQoS.AtMostOnce)
                {
                    throw new MqttProtocolException(ReasonCode.PayloadFormatInvalid, "payload is not valid UTF-8 but the payload format indicator is 1");
                }

                Acknowledge(publish, ReasonCode.PayloadFormatInvalid, "payload is not valid UTF-8");
                return;
            }
        }
        else if (topic.Length == 0)
        {
            throw MqttProtocolException.ProtocolError("empty topic name");
        }

        if (PublishRules.Check(options, topic, publish.QoS, publish.Retain, publish.Payload.Length) is { } refusal)
        {
            // A topic too deep is not malformed, just not accepted here: MQTT 5 gets 0x90 on its
            // acknowledgement. Everything else (QoS, retain), and anything for QoS 0 or MQTT 3.1.1,
            // which has no negative acknowledgement, closes the connection: acknowledging a message
            // the broker drops would lie.
            if (refusal.Code != ReasonCode.TopicNameInvalid || !IsV5 || publish.QoS == MqttQoS.AtMostOnce)
            {
                throw new MqttProtocolException(refusal.Code, refusal.Message.TrimEnd('.'));
            }

            Acknowledge(publish, refusal.Code, refusal.Message.TrimEnd('.'));
            return;
        }

        // A denied PUBLISH is acknowledged but dropped (3.1.1), or refused with 0x87 (5.0).
        var allowed = MayPublish(topic);
        if (publish.QoS == MqttQoS.ExactlyOnce)
        {
            // Exactly once: route on the first PUBLISH of an id; a resend before PUBREL is only acknowledged.
            var receiveMaximum = IsV5 ? options.ReceiveMaximum : ushort.MaxValue;
            if (!_session!.TryAddIncomingQoS2(publish.PacketId, receiveMaximum, out var overQuota))
            {
                if (overQuota)
                {
                    throw new MqttProtocolException(ReasonCode.ReceiveMaximumExceeded, $"more than {receiveMaximum} QoS 2 messages awaiting PUBREL");
                }

                SendPublishAck(new PubRecPacket { PacketId = publish.PacketId });
                return;
            }
        }

        if (!allowed)
        {
            Log.PublishDenied(_logger, ClientId, topic);
            _broker.Dropped(DropReason.NotAuthorized, null);
            if (publish.QoS == MqttQoS.ExactlyOnce && IsV5)
            {
                // A PUBREC with a failure code ends the exchange: no PUBREL will come [MQTT-4.3.3-4].
                _session!.ReleaseIncomingQoS2(publish.PacketId);
            }

            if (publish.QoS != MqttQoS.AtMostOnce)
            {
                Acknowledge(publish, IsV5 ? ReasonCode.NotAuthorized : ReasonCode.Success, "not authorized to publish to this topic");
            }

            return;
        }

        var message = new ApplicationMessage(topic, publish.Payload, publish.QoS, publish.Retain, properties, ClientId, _broker.NowMs);
        _quotaDropped = false;
        var matched = _broker.Route(message, publish.QoS == MqttQoS.AtMostOnce ? null : this);
        if (publish.QoS != MqttQoS.AtMostOnce)
        {
            if (_quotaDropped && IsV5)
            {
                Acknowledge(publish, ReasonCode.QuotaExceeded, "a subscriber's queue is full");
            }
            else
            {
                Acknowledge(publish, matched || !IsV5 ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers, null);
            }
        }
    }

    private void Acknowledge(PublishPacket publish, ReasonCode code, string? reason)
    {
        var properties = reason is not null && _requestProblemInformation ? new MqttProperties { ReasonString = reason } : null;
        if (publish.QoS == MqttQoS.AtLeastOnce)
        {
            SendPublishAck(new PubAckPacket { PacketId = publish.PacketId, ReasonCode = code, Properties = properties });
        }
        else
        {
            SendPublishAck(new PubRecPacket { PacketId = publish.PacketId, ReasonCode = code, Properties = properties });
        }
    }

    /// <summary>Client-to-broker topic alias (MQTT 5, spec 3.3.2.3.4).</summary>
    private string ResolveInboundAlias(string topic, MqttProperties properties)
    {
        if (properties.TopicAlias is not { } alias)
        {
            if (topic.Length == 0)
            {
                throw MqttProtocolException.ProtocolError("empty topic name without a topic alias");
            }

            return topic;
        }

        if (alias == 0 || alias > _broker.Options.TopicAliasMaximum)
        {
            // [MQTT-3.3.2-8], [MQTT-3.3.2-9]
            throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, $"topic alias {alias} is outside 1..{_broker.Options.TopicAliasMaximum}");
        }

        _inboundAliases ??= [];
        if (topic.Length > 0)
        {
            _inboundAliases[alias] = topic;
            return topic;
        }

        return _inboundAliases.TryGetValue(alias, out var known)
            ? known
            : throw MqttProtocolException.ProtocolError($"topic alias {alias} was never set");
    }

    private void HandlePubRec(PubRecPacket rec)
    {
        var known = _session!.OnPubRec(rec.PacketId);
        SendControl(new PubRelPacket
        {
            PacketId = rec.PacketId,
            ReasonCode = known || !IsV5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
        });
    }

    private void HandlePubRel(PubRelPacket rel)
    {
        var known = _session!.ReleaseIncomingQoS2(rel.PacketId);
        SendControl(new PubCompPacket
        {
            PacketId = rel.PacketId,
            ReasonCode = known || !IsV5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
        });
    }

    private bool HandleDisconnect(DisconnectPacket disconnect)
    {
        // [MQTT-3.14.4-3] no will after DISCONNECT, unless MQTT 5 reason 0x04 asks for it.
        _publishWill = IsV5 && disconnect.ReasonCode == ReasonCode.DisconnectWithWillMessage;
        if (!_publishWill)
        {
            _will = null;
        }

        if (IsV5 && disconnect.Properties?.SessionExpiryInterval is { } expiry && _session is { } session)
        {
            if (session.ExpiryInterval == 0 && expiry != 0)
            {
                // [MQTT-3.14.2-2]
                throw MqttProtocolException.ProtocolError("session expiry interval set on DISCONNECT after 0 on CONNECT");
            }

            session.ExpiryInterval = expiry;
        }

        _closeReason = "DISCONNECT";
        return false;
    }

    private static string VersionName(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V310 => "3.1",
        MqttProtocolVersion.V311 => "3.1.1",
        _ => "5.0",
    };
}
