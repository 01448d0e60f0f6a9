using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// What an actor does with each packet the broker sends: the client half of the MQTT session, done
/// as the specification asks (QoS 2 received: deliver once, remember the id until PUBREL, answer
/// a resend with PUBREC only), and recording everything the model needs.
/// </summary>
internal sealed partial class ModelActor
{
    private async ValueTask OnPacketAsync(ModelLink link, MqttPacket packet)
    {
        if (!link.Previous.IsCompleted)
        {
            try
            {
                await link.Previous.WaitAsync(ModelTimeouts.Close);
            }
            catch (TimeoutException)
            {
                // The takeover check reports a connection the broker left open.
            }
        }

        if (link.ExpectClose && !_context.Exercises(KnownFailures.OldConnectionAfterTakeover))
        {
            // A client that took its session over has given up on the old connection. (Still
            // handling it shows the broker acting on the old connection after the takeover: a known failure.)
            return;
        }

        switch (packet)
        {
            case ConnAckPacket connAck:
                await OnConnAckAsync(link, connAck);
                break;
            case PublishPacket publish:
                await OnPublishAsync(link, publish);
                break;
            case PubRelPacket rel:
                if (_context.TracePackets)
                {
                    Trace($"#{link.Id} <- PUBREL {rel.PacketId}", Model.Next());
                }

                lock (Model.Sync)
                {
                    link.Epoch?.AwaitingRelease.Remove(rel.PacketId);
                }

                await SendAckAsync(link, new PubCompPacket { PacketId = rel.PacketId });
                break;
            case PubAckPacket or PubRecPacket or PubCompPacket:
                await OnPublishAckAsync(link, packet);
                break;
            case SubAckPacket or UnsubAckPacket:
                OnRequestAnswer(link, packet);
                break;
            case DisconnectPacket disconnect:
                Trace($"#{link.Id} got DISCONNECT 0x{(byte)disconnect.ReasonCode:X2}", Model.Next());
                if (!link.ExpectClose)
                {
                    Model.Violation($"{ClientId}: the broker sent DISCONNECT 0x{(byte)disconnect.ReasonCode:X2} on #{link.Id} ({disconnect.Properties?.ReasonString})");
                }

                await link.Connection.DisposeAsync();
                break;
            case PingRespPacket:
                break;
            default:
                Model.Violation($"{ClientId}: unexpected {packet.Type} on #{link.Id}");
                break;
        }
    }

    private async ValueTask OnConnAckAsync(ModelLink link, ConnAckPacket connAck)
    {
        List<(ushort Id, Outgoing Out)>? resend = null;
        lock (Model.Sync)
        {
            var stamp = Model.Next();
            if (connAck.ReasonCode != 0)
            {
                Model.Violation($"{ClientId}: CONNECT on #{link.Id} refused with 0x{connAck.ReasonCode:X2}");
                link.ConnAck.TrySetResult(connAck);
                return;
            }

            var sp = connAck.SessionPresent;
            if (link.Intent.ExpectSessionPresent is { } expected && expected != sp)
            {
                Model.Violation($"{ClientId}: CONNACK on #{link.Id} says session present {(sp ? 1 : 0)}, expected {(expected ? 1 : 0)} "
                    + $"({(link.Intent.CleanStart ? "clean start" : "resume")}, stored: {(_epoch is null ? "none" : _epoch.Describe())}) [MQTT-3.2.2-{(expected ? 2 : link.Intent.CleanStart ? 1 : 3)}]");
            }

            Epoch epoch;
            if (sp && _epoch is { Alive: true } resumed)
            {
                epoch = resumed;
                epoch.Persistent = link.Intent.Persistent;
                epoch.Note(stamp, $"resumed on #{link.Id} ({(epoch.Persistent ? "persistent" : "ends with its connection")})");
                resend = [.. epoch.Outbox.Select(kv => (kv.Key, kv.Value))];
            }
            else
            {
                if (_epoch is { Alive: true } ended)
                {
                    // The broker ended it while handling this CONNECT (clean start, or a session that
                    // ended with its connection): what it still owed is released.
                    ended.End(link.ConnectStamp, stamp, $"ended by CONNECT on #{link.Id}");
                }

                epoch = Model.NewEpoch(this, link.Intent.Persistent, stamp);
                epoch.Note(stamp, $"on #{link.Id}");
            }

            link.Epoch = epoch;
            link.ConnAckStamp = stamp;
            _epoch = epoch;
            Trace($"#{link.Id} CONNACK sp={(sp ? 1 : 0)} -> {epoch}", stamp);
        }

        // [MQTT-4.4.0-1] a resumed session resends unacknowledged PUBLISH (DUP) and PUBREL, in order.
        foreach (var (id, outgoing) in resend ?? [])
        {
            MqttPacket again = outgoing.Released
                ? new PubRelPacket { PacketId = id }
                : new PublishPacket
                {
                    Topic = outgoing.Message.Topic,
                    Payload = outgoing.Message.Id.ToPayload(),
                    QoS = outgoing.Message.QoS,
                    Retain = outgoing.Message.Retain,
                    Dup = true,
                    PacketId = id,
                };
            lock (Model.Sync)
            {
                if (!outgoing.Released)
                {
                    outgoing.Message.Sends++;
                    outgoing.Message.LastSend = Model.Next();
                }
            }

            Trace($"#{link.Id} resend {(outgoing.Released ? "PUBREL" : "PUBLISH")} {outgoing.Message.Id} id={id}", Model.Next());
            await link.Connection.SendAsync(again);
        }

        link.ConnAck.TrySetResult(connAck);
    }

    private async ValueTask OnPublishAsync(ModelLink link, PublishPacket publish)
    {
        MqttPacket? ack = null;
        lock (Model.Sync)
        {
            var stamp = Model.Next();
            if (link.Epoch is not { } epoch)
            {
                if (publish.QoS == MqttQoS.AtMostOnce && !_context.Exercises(KnownFailures.QoS0BeforeConnAck))
                {
                    Trace($"#{link.Id} ignored {RawDescribe(publish)} before CONNACK (known failure)", stamp);
                    return;
                }

                Model.Violation($"{ClientId}: {RawDescribe(publish)} before CONNACK on #{link.Id}, the first packet must be CONNACK [MQTT-3.2.0-1]");
                return;
            }

            if (!MsgId.TryParse(publish.Payload.Span, out var msg) || !Model.Messages.TryGetValue(msg, out var record))
            {
                Model.Violation($"{ClientId}: received a message nobody published: '{publish.Topic}' payload '{System.Text.Encoding.UTF8.GetString(publish.Payload.Span)}' on #{link.Id}");
                return;
            }

            if (record.Topic != publish.Topic)
            {
                Model.Violation($"{ClientId}: {record} arrived on #{link.Id} with topic '{publish.Topic}'");
            }

            if (publish.QoS > record.QoS)
            {
                Model.Violation($"{ClientId}: {record} arrived on #{link.Id} at q{(int)publish.QoS}, above its publish QoS [MQTT-3.8.4-8]");
            }

            var deliver = true;
            if (publish.QoS == MqttQoS.ExactlyOnce)
            {
                // [MQTT-4.3.3-9] until PUBREL, a PUBLISH with this id is the same message: acknowledge, do not deliver.
                if (epoch.AwaitingRelease.TryGetValue(publish.PacketId, out var held))
                {
                    deliver = false;
                    if (held != msg)
                    {
                        Model.Violation($"{ClientId}: packet id {publish.PacketId} reused on #{link.Id} for {msg} while {held} still awaited PUBREL [MQTT-2.2.1-4]");
                    }
                }
                else
                {
                    epoch.AwaitingRelease[publish.PacketId] = msg;
                }
            }

            // A resend of a message we acknowledged on an earlier connection: the broker may take that
            // acknowledgement after the resend and count the message as done, so it is not counted here.
            var ackedBefore = publish.Dup && epoch.AckedOn.TryGetValue(publish.PacketId, out var ackedOn) && ackedOn != link.Id;
            if (!publish.Dup)
            {
                epoch.AckedOn.Remove(publish.PacketId);
            }

            if (publish.QoS != MqttQoS.AtMostOnce && !ackedBefore && link.Unacknowledged.Add(publish.PacketId))
            {
                var window = Math.Min(_context.MaxInflight, link.Intent.ReceiveMaximum ?? ushort.MaxValue);
                if (link.Unacknowledged.Count > window)
                {
                    Model.Violation($"{ClientId}: {link.Unacknowledged.Count} unacknowledged QoS 1/2 PUBLISHes on #{link.Id}, window {window} [MQTT-3.3.4-9]");
                }
            }

            var delivery = new DeliveryRecord(msg, stamp, publish.QoS, publish.Retain, publish.Dup, link.Id, publish.PacketId);
            if (deliver)
            {
                epoch.Deliveries.Add(delivery);
                if (!publish.Retain)
                {
                    epoch.LiveReceived.Add(msg);
                }

                if (msg.Publisher == MsgId.FencePublisher)
                {
                    epoch.FencesReceived++;
                }
            }
            else
            {
                Trace($"#{link.Id} duplicate {delivery} not delivered again", stamp);
            }

            if (_context.TracePackets)
            {
                Trace($"#{link.Id} <- {delivery} unacked={link.Unacknowledged.Count}", stamp);
            }

            ack = publish.QoS switch
            {
                MqttQoS.AtLeastOnce => new PubAckPacket { PacketId = publish.PacketId },
                MqttQoS.ExactlyOnce => new PubRecPacket { PacketId = publish.PacketId },
                _ => null,
            };
        }

        Model.Progress.Pulse();
        if (ack is not null)
        {
            await SendAckAsync(link, ack);
        }
    }

    /// <summary>Sends PUBACK/PUBREC, or keeps it while the link holds acknowledgements; PUBCOMP always goes out.</summary>
    private async ValueTask SendAckAsync(ModelLink link, MqttPacket ack)
    {
        await link.AckGate.WaitAsync();
        try
        {
            if (link.Holding && ack is PubAckPacket or PubRecPacket)
            {
                link.HeldAcks.Add(ack);
                return;
            }

            await SendAckNowAsync(link, ack);
        }
        finally
        {
            link.AckGate.Release();
        }
    }

    /// <summary>Writes an acknowledgement; the caller holds the link's ack gate.</summary>
    private async ValueTask SendAckNowAsync(ModelLink link, MqttPacket ack)
    {
        lock (Model.Sync)
        {
            // Before the write: the broker may answer the acknowledgement with a new PUBLISH before
            // the write call returns here.
            var id = ack switch { PubAckPacket a => a.PacketId, PubCompPacket c => c.PacketId, _ => (ushort)0 };
            if (id != 0)
            {
                link.Unacknowledged.Remove(id);
                if (link.Epoch is { } epoch)
                {
                    epoch.AckedOn[id] = link.Id;
                }
            }

            if (_context.TracePackets)
            {
                Trace($"#{link.Id} -> {ack.Type} {ack switch { PubAckPacket a => a.PacketId, PubRecPacket r => r.PacketId, PubCompPacket c => c.PacketId, _ => 0 }}", Model.Next());
            }
        }

        await link.Connection.SendAsync(ack);
    }

    private async ValueTask OnPublishAckAsync(ModelLink link, MqttPacket packet)
    {
        PubRelPacket? release = null;
        lock (Model.Sync)
        {
            var stamp = Model.Next();

            // Answers on a connection that was taken over are ignored: the same PUBLISH is resent on
            // the new one, and an answer here could otherwise complete a later message that reuses the id.
            if (!ReferenceEquals(link, _current) || link.Epoch is not { } epoch)
            {
                return;
            }

            switch (packet)
            {
                case PubAckPacket ack when epoch.Outbox.TryGetValue(ack.PacketId, out var o) && o.Message.QoS == MqttQoS.AtLeastOnce:
                    epoch.Outbox.Remove(ack.PacketId);
                    Acknowledged(o, stamp, (byte)ack.ReasonCode);
                    break;
                case PubRecPacket rec when epoch.Outbox.TryGetValue(rec.PacketId, out var o) && o.Message.QoS == MqttQoS.ExactlyOnce:
                    if ((byte)rec.ReasonCode >= 0x80)
                    {
                        epoch.Outbox.Remove(rec.PacketId);

                        // 0x97: every matching session's queue was full; not accepted, so not owed (and counted as a drop).
                        if (rec.ReasonCode != ReasonCode.QuotaExceeded)
                        {
                            Model.Violation($"{ClientId}: {o.Message} refused with PUBREC 0x{(byte)rec.ReasonCode:X2}");
                        }

                        o.Done.TrySetResult();
                        break;
                    }

                    o.Released = true;
                    release = new PubRelPacket { PacketId = rec.PacketId };
                    break;
                case PubRecPacket rec:
                    // Not ours any more (or already released): PUBREL lets the broker finish.
                    release = new PubRelPacket { PacketId = rec.PacketId };
                    break;
                case PubCompPacket comp when epoch.Outbox.TryGetValue(comp.PacketId, out var o) && o.Released:
                    epoch.Outbox.Remove(comp.PacketId);
                    // Accepted at PUBREC; PUBCOMP 0x92 answers a PUBREL resent after the broker
                    // had already completed the exchange (MQTT 5, 3.7.2.1: not an error during recovery).
                    Acknowledged(o, stamp, 0);
                    break;
            }
        }

        if (release is not null)
        {
            await link.Connection.SendAsync(release);
        }
    }

    private void Acknowledged(Outgoing outgoing, long stamp, byte reasonCode)
    {
        // 0x10 (no matching subscribers) is a success: the message was accepted. 0x97: every matching
        // session's queue was full, so it was accepted by nobody: not owed, and counted as a drop.
        if (reasonCode == (byte)ReasonCode.QuotaExceeded)
        {
        }
        else if (reasonCode >= 0x80)
        {
            Model.Violation($"{ClientId}: {outgoing.Message} refused with 0x{reasonCode:X2}");
        }
        else
        {
            outgoing.Message.Acked = stamp;
        }

        outgoing.Done.TrySetResult();
        Model.Progress.Pulse();
    }

    private void OnRequestAnswer(ModelLink link, MqttPacket packet)
    {
        var id = packet is SubAckPacket s ? s.PacketId : ((UnsubAckPacket)packet).PacketId;
        lock (Model.Sync)
        {
            var stamp = Model.Next();
            if (!link.Requests.Remove(id, out var request))
            {
                Model.Violation($"{ClientId}: {packet.Type} for id {id} on #{link.Id}, which has no such request [MQTT-3.9.2-1]");
                return;
            }

            if (packet is SubAckPacket ack && (ack.ReasonCodes.Count != 1 || ack.ReasonCodes[0] != request.Change.QoS))
            {
                // Refused: the subscription did not change; treat the change as never answered
                // (uncertain) rather than as a grant the broker did not make.
                Trace($"#{link.Id} SUBACK refused '{request.Filter}'", stamp);
            }
            else
            {
                request.Change.End = stamp;
            }

            request.Answer.TrySetResult(packet);
        }
    }

    private void OnClosed(ModelLink link)
    {
        lock (Model.Sync)
        {
            var stamp = Model.Next();
            var connection = link.Connection;
            Model.ClosedConnections.Add(link.Id);
            Trace($"#{link.Id} closed ({connection.CloseReason})", stamp);
            if (connection.ClosedByBroker && !link.ExpectClose)
            {
                Model.Violation($"{ClientId}: the broker closed #{link.Id}: {connection.CloseReason}");
            }

            if (link.Epoch is { } epoch)
            {
                epoch.Note(stamp, $"#{link.Id} closed ({connection.CloseReason})");
                epoch.ClosedConnectionsOpenedAt.Add(link.ConnAckStamp);

                // A session that ends with its connection ends here, unless a newer connection resumed it.
                if (epoch.Alive && !epoch.Persistent && ReferenceEquals(_current, link))
                {
                    epoch.End(link.ClosingFrom ?? stamp, SubscriptionChange.Open, "ended with its connection");
                }
            }

            link.ConnAck.TrySetCanceled();
            foreach (var request in link.Requests.Values)
            {
                request.Answer.TrySetCanceled();
            }
        }

        Model.Progress.Pulse();
    }

    private static string RawDescribe(PublishPacket publish) =>
        $"PUBLISH '{publish.Topic}' q{(int)publish.QoS}{(publish.Dup ? " dup" : "")} id={publish.PacketId} payload '{System.Text.Encoding.UTF8.GetString(publish.Payload.Span)}'";
}
