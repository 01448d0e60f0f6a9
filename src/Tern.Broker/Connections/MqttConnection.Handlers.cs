using System.Text.Unicode;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private bool IsV5 => Version == MqttProtocolVersion.V500;

    private void HandlePublish(PublishPacket publish)
    {
        _messagesReceived++;
        _messagesReceivedByQoS[(int)publish.QoS]++;
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

                // A resend: PUBREC again, not before the first one's commit.
                SendPublishAck(new PubRecPacket { PacketId = publish.PacketId }, _session.IsStored ? _broker.Store!.Ticket : 0);
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
                _session!.ReleaseIncomingQoS2(publish.PacketId, out _);
            }

            if (publish.QoS != MqttQoS.AtMostOnce)
            {
                Acknowledge(publish, IsV5 ? ReasonCode.NotAuthorized : ReasonCode.Success, "not authorized to publish to this topic");
            }

            return;
        }

        if (publish.QoS != MqttQoS.AtMostOnce
            && _broker.Store?.Failure is { } failure
            && ((publish.QoS == MqttQoS.ExactlyOnce && _session!.IsStored) || _broker.WouldStore(topic, publish.Retain, ClientId)))
        {
            // Refused before routing: a refused message reaches nobody. (One routed just before the
            // failure was known waits on the failed batch, which closes this connection instead.)
            RefuseUnstored(publish, failure);
            return;
        }

        var message = new ApplicationMessage(topic, publish.Payload, publish.QoS, publish.Retain, properties, ClientId, _broker.NowMs);
        _quotaDropped = false;
        _deliveredAny = false;
        _stored = publish.QoS == MqttQoS.ExactlyOnce && _session!.IsStored;
        var matched = _broker.Route(message, publish.QoS == MqttQoS.AtMostOnce ? null : this);
        if (publish.QoS != MqttQoS.AtMostOnce)
        {
            // Read after routing: every change it logged is in this batch or an earlier one.
            var ticket = _stored ? _broker.Store!.Ticket : 0;
            if (_quotaDropped && !_deliveredAny && IsV5)
            {
                // Every matching session's queue was full: accepted by nobody (counted as queue_full).
                if (publish.QoS == MqttQoS.ExactlyOnce)
                {
                    // A PUBREC with a failure code ends the exchange [MQTT-4.3.3-4]: the id is free again.
                    _session!.ReleaseIncomingQoS2(publish.PacketId, out _);
                }

                Acknowledge(publish, ReasonCode.QuotaExceeded, "every matching subscriber's queue is full");
            }
            else
            {
                Acknowledge(publish, matched || !IsV5 ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers, null, ticket);
            }
        }
    }

    /// <summary>
    /// The store failed, and this message needed it: MQTT 5 gets 0x97 (it may try again later); MQTT
    /// 3.1.1, which has no negative acknowledgement, is disconnected rather than told it was taken.
    /// </summary>
    private void RefuseUnstored(PublishPacket publish, Exception failure)
    {
        _broker.Dropped(DropReason.StoreFailed, null);
        if (publish.QoS == MqttQoS.ExactlyOnce)
        {
            // A PUBREC with a failure code ends the exchange [MQTT-4.3.3-4]; a 3.1.1 client that sends
            // it again after reconnecting is refused again, not answered as for a message taken.
            _session!.ReleaseIncomingQoS2(publish.PacketId, out _);
        }

        if (!IsV5)
        {
            // Not a protocol error: the client did nothing wrong (the store's failure is logged once).
            Close($"the store cannot write ({failure.Message}): a QoS {(int)publish.QoS} message that needs it cannot be kept", publishWill: true);
            return;
        }

        Acknowledge(publish, ReasonCode.QuotaExceeded, "the broker cannot store messages now");
    }

    private void Acknowledge(PublishPacket publish, ReasonCode code, string? reason, long ticket = 0)
    {
        var properties = reason is not null && _requestProblemInformation ? new MqttProperties { ReasonString = reason } : null;
        if (publish.QoS == MqttQoS.AtLeastOnce)
        {
            SendPublishAck(new PubAckPacket { PacketId = publish.PacketId, ReasonCode = code, Properties = properties }, ticket);
        }
        else
        {
            SendPublishAck(new PubRecPacket { PacketId = publish.PacketId, ReasonCode = code, Properties = properties }, ticket);
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
        var known = _session!.OnPubRec(rec.PacketId, out var ticket);
        SendControlAfterCommit(
            new PubRelPacket
            {
                PacketId = rec.PacketId,
                ReasonCode = known || !IsV5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
            },
            ticket);
    }

    private void HandlePubRel(PubRelPacket rel)
    {
        var known = _session!.ReleaseIncomingQoS2(rel.PacketId, out var ticket);
        SendControlAfterCommit(
            new PubCompPacket
            {
                PacketId = rel.PacketId,
                ReasonCode = known || !IsV5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
            },
            ticket);
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
