using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private bool HandleConnect(ConnectPacket connect)
    {
        Version = connect.ProtocolVersion;
        var v5 = Version == MqttProtocolVersion.V500;
        var clientId = connect.ClientId;
        string? assignedId = null;

        if (clientId.Length == 0)
        {
            // 3.1 requires an id; 3.1.1 assigns one only to a clean session [MQTT-3.1.3-7, -8].
            if (Version == MqttProtocolVersion.V310 || (!connect.CleanSession && !v5))
            {
                return Refuse(ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid, "empty client id without clean session");
            }

            clientId = assignedId = _broker.AssignClientId();
        }

        uint expiry = v5
            ? connect.Properties?.SessionExpiryInterval ?? 0
            : connect.CleanSession ? 0 : MqttSession.NeverExpires;
        var inflightLimit = _broker.Options.MaxInflight;
        if (v5 && connect.Properties?.ReceiveMaximum is { } receiveMaximum)
        {
            if (receiveMaximum == 0)
            {
                throw MqttProtocolException.ProtocolError("receive maximum 0");
            }

            inflightLimit = Math.Min(inflightLimit, receiveMaximum);
        }

        ClientId = clientId;
        KeepAlive = connect.KeepAlive;
        _will = connect.Will;
        IsConnected = true;

        var session = _broker.Sessions.Connect(this, clientId, connect.CleanSession, expiry, out var sessionPresent, out var previous);
        _session = session;
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
            Properties = v5 ? BuildConnAckProperties(assignedId) : null,
        };
        session.Attach(this, connAck, inflightLimit);
        Log.ClientConnected(_logger, clientId, RemoteEndPoint, VersionName(Version), connect.CleanSession, KeepAlive, sessionPresent);
        return true;
    }

    private MqttProperties BuildConnAckProperties(string? assignedId) => new()
    {
        AssignedClientIdentifier = assignedId,
        MaximumPacketSize = (uint)_broker.Options.MaxPacketSize,
        RetainAvailable = 1,
        WildcardSubscriptionAvailable = 1,
        SubscriptionIdentifierAvailable = 0,
        SharedSubscriptionAvailable = 0,
        TopicAliasMaximum = 0,
    };

    /// <summary>Answers CONNECT with a refusal and ends the connection.</summary>
    private bool Refuse(ConnectReturnCode code311, ReasonCode code5, string reason)
    {
        var code = Version == MqttProtocolVersion.V500 ? (byte)code5 : (byte)code311;
        SendControl(new ConnAckPacket { ReasonCode = code });
        _closeReason = "connection refused: " + reason;
        _publishWill = false;
        Log.ConnectionRefused(_logger, RemoteEndPoint, reason);
        return false;
    }

    private void HandlePublish(PublishPacket publish)
    {
        _messagesReceived++;
        if (Version == MqttProtocolVersion.V500 && (publish.Topic.Length == 0 || publish.Properties?.TopicAlias is not null))
        {
            // Topic alias maximum is announced as 0 [MQTT-3.2.2-18].
            throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, "topic alias used, but the maximum is 0");
        }

        switch (publish.QoS)
        {
            case MqttQoS.AtMostOnce:
                Route(publish);
                break;
            case MqttQoS.AtLeastOnce:
                Route(publish);
                SendControl(new PubAckPacket { PacketId = publish.PacketId });
                break;
            default:
                // Exactly once: route on the first PUBLISH of an id; a resend before PUBREL is only acknowledged.
                if (_session!.TryAddIncomingQoS2(publish.PacketId))
                {
                    Route(publish);
                }

                SendControl(new PubRecPacket { PacketId = publish.PacketId });
                break;
        }
    }

    private void Route(PublishPacket publish)
    {
        var message = new ApplicationMessage(
            publish.Topic,
            publish.Payload,
            publish.QoS,
            publish.Retain,
            Version == MqttProtocolVersion.V500 ? publish.Properties : null,
            ClientId,
            Environment.TickCount64);
        _broker.Route(message);
    }

    private void HandlePubRec(PubRecPacket rec)
    {
        var known = _session!.OnPubRec(rec.PacketId);
        SendControl(new PubRelPacket
        {
            PacketId = rec.PacketId,
            ReasonCode = known || Version != MqttProtocolVersion.V500 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
        });
    }

    private void HandlePubRel(PubRelPacket rel)
    {
        var known = _session!.ReleaseIncomingQoS2(rel.PacketId);
        SendControl(new PubCompPacket
        {
            PacketId = rel.PacketId,
            ReasonCode = known || Version != MqttProtocolVersion.V500 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
        });
    }

    private void HandleSubscribe(SubscribePacket subscribe)
    {
        var session = _session!;
        var codes = new byte[subscribe.Subscriptions.Count];
        List<(string Filter, MqttQoS QoS)>? retainedFor = null;
        for (var i = 0; i < codes.Length; i++)
        {
            var (filter, options) = subscribe.Subscriptions[i];
            if (!MqttTopic.IsValidTopicFilter(filter))
            {
                codes[i] = Version == MqttProtocolVersion.V500 ? (byte)ReasonCode.TopicFilterInvalid : (byte)0x80;
                continue;
            }

            if (MqttTopic.TryParseSharedSubscription(filter, out _, out _))
            {
                codes[i] = Version == MqttProtocolVersion.V500 ? (byte)ReasonCode.SharedSubscriptionsNotSupported : (byte)0x80;
                continue;
            }

            var granted = options.QoS;
            bool existed;
            lock (session.Sync)
            {
                if (session.Ended)
                {
                    codes[i] = 0x80;
                    continue;
                }

                existed = session.Subscriptions.ContainsKey(filter);
                var subscription = new Subscription(session, filter, options with { QoS = granted }, null);
                session.Subscriptions[filter] = subscription;
                _broker.Index.Add(subscription);
            }

            codes[i] = (byte)granted;
            // [MQTT-3.3.1-6] retained messages on subscribe; retain handling 1 only for a new subscription.
            var sendRetained = Version != MqttProtocolVersion.V500
                || options.RetainHandling == 0
                || (options.RetainHandling == 1 && !existed);
            if (sendRetained)
            {
                (retainedFor ??= []).Add((filter, granted));
            }
        }

        SendControl(new SubAckPacket { PacketId = subscribe.PacketId, ReasonCodes = codes });

        if (retainedFor is not null)
        {
            foreach (var (filter, granted) in retainedFor)
            {
                foreach (var message in _broker.Retained.Match(filter))
                {
                    session.Deliver(message, (MqttQoS)Math.Min((byte)message.QoS, (byte)granted), retain: true);
                }
            }
        }
    }

    private void HandleUnsubscribe(UnsubscribePacket unsubscribe)
    {
        var session = _session!;
        var codes = new byte[unsubscribe.Filters.Count];
        for (var i = 0; i < codes.Length; i++)
        {
            var filter = unsubscribe.Filters[i];
            bool removed;
            lock (session.Sync)
            {
                removed = session.Subscriptions.Remove(filter) && _broker.Index.Remove(session, filter);
            }

            codes[i] = removed ? (byte)ReasonCode.Success : (byte)ReasonCode.NoSubscriptionExisted;
        }

        SendControl(new UnsubAckPacket { PacketId = unsubscribe.PacketId, ReasonCodes = codes });
    }

    private bool HandleDisconnect(DisconnectPacket disconnect)
    {
        // [MQTT-3.14.4-3] no will after DISCONNECT, unless MQTT 5 reason 0x04 asks for it.
        _publishWill = Version == MqttProtocolVersion.V500 && disconnect.ReasonCode == ReasonCode.DisconnectWithWillMessage;
        if (!_publishWill)
        {
            _will = null;
        }

        if (Version == MqttProtocolVersion.V500 && disconnect.Properties?.SessionExpiryInterval is { } expiry && _session is { } session)
        {
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
