using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// The publisher's side of overload protection: while a session this connection published to is
/// past its high-water mark, the PUBACK/PUBREC of its QoS 1/2 messages wait here, in order, and go
/// out when every such session is back under its low-water mark (or went offline). A client with
/// an in-flight window stops there; reading goes on, so its PINGREQs, acknowledgements and own
/// deliveries keep flowing and no cycle of clients can deadlock.
/// </summary>
internal sealed partial class MqttConnection
{
    private HoldState? _hold;

    // Set while routing one PUBLISH: a session's full queue dropped it, and whether any session took it
    // (dropped by every one, MQTT 5 gets PUBACK 0x97: accepted by nobody).
    private bool _quotaDropped;
    private bool _deliveredAny;
    private bool _stored;

    /// <summary>Acknowledgements held back right now (tests, admin views).</summary>
    internal int HeldAcknowledgements
    {
        get
        {
            var hold = Volatile.Read(ref _hold);
            if (hold is null)
            {
                return 0;
            }

            lock (hold)
            {
                return hold.Acks.Count;
            }
        }
    }

    /// <summary>Times this connection's acknowledgements started being held (tests, admin views).</summary>
    internal long TimesSlowed => Volatile.Read(ref _hold)?.TimesSlowed ?? 0;

    /// <summary>Called by a session, under its lock, whose queue is past its high-water mark.</summary>
    internal void HoldFor(MqttSession session)
    {
        var hold = Volatile.Read(ref _hold) ?? Interlocked.CompareExchange(ref _hold, new HoldState(), null) ?? _hold!;
        lock (hold)
        {
            if (hold.WaitingOn.Count == 0 && hold.Acks.Count == 0)
            {
                hold.TimesSlowed++;
                hold.HeldSince = _broker.NowMs;
            }

            hold.WaitingOn.Add(session);
        }
    }

    /// <summary>A session no longer needs this publisher to wait; when none does, the held acknowledgements go out in order.</summary>
    internal void Relieve(MqttSession session)
    {
        var hold = Volatile.Read(ref _hold);
        if (hold is null)
        {
            return;
        }

        List<(MqttPacket, long)>? release = null;
        lock (hold)
        {
            hold.WaitingOn.Remove(session);
            if (hold.WaitingOn.Count == 0 && hold.Acks.Count > 0)
            {
                release = [.. hold.Acks];
                hold.Acks.Clear();
            }
        }

        SendReleased(release);
    }

    /// <summary>
    /// Timer: acknowledgements held longer than <paramref name="limitMs"/> go out anyway. A client that
    /// will not take its own deliveries until its publish is acknowledged (a handler that publishes and
    /// waits) would otherwise wait for ever on its own queue; this bounds it to a slowdown.
    /// </summary>
    internal void ReleaseHeldAcknowledgements(long now, long limitMs)
    {
        var hold = Volatile.Read(ref _hold);
        if (hold is null || limitMs <= 0)
        {
            return;
        }

        List<(MqttPacket, long)>? release = null;
        lock (hold)
        {
            if (hold.Acks.Count > 0 && now - hold.HeldSince > limitMs)
            {
                release = [.. hold.Acks];
                hold.Acks.Clear();
                hold.WaitingOn.Clear();
            }
        }

        SendReleased(release);
    }

    /// <summary>A stored session (or the retained store) logged a change for the message being routed: its acknowledgement waits for the commit.</summary>
    internal void NoteStored() => _stored = true;

    /// <summary>A session's full queue dropped the message being routed.</summary>
    internal void NoteQuotaDrop() => _quotaDropped = true;

    /// <summary>A session took the message being routed.</summary>
    internal void NoteDelivered() => _deliveredAny = true;

    /// <summary>
    /// Sends a PUBACK/PUBREC once <paramref name="ticket"/> is committed (0: nothing to wait for), or holds
    /// it behind the others while a session asks this publisher to wait.
    /// </summary>
    private void SendPublishAck(MqttPacket ack, long ticket = 0)
    {
        var hold = Volatile.Read(ref _hold);
        if (hold is not null)
        {
            (MqttPacket, long)? overflow = null;
            lock (hold)
            {
                if (hold.WaitingOn.Count > 0 || hold.Acks.Count > 0)
                {
                    hold.Acks.Enqueue((ack, ticket));

                    // A client without a window would make this grow without end: past the receive
                    // maximum the oldest goes out anyway (and the queues' hard bounds apply).
                    if (hold.Acks.Count > _broker.Options.ReceiveMaximum)
                    {
                        overflow = hold.Acks.Dequeue();
                    }

                    ack = null!;
                }
            }

            if (ack is null)
            {
                if (overflow is { } first)
                {
                    SendControlAfterCommit(first.Item1, first.Item2);
                }

                return;
            }
        }

        SendControlAfterCommit(ack, ticket);
    }

    /// <summary>Held acknowledgements go on, in order, to wait for their commit if they still must.</summary>
    private void SendReleased(List<(MqttPacket Ack, long Ticket)>? release)
    {
        if (release is not null)
        {
            foreach (var (ack, ticket) in release)
            {
                SendControlAfterCommit(ack, ticket);
            }
        }
    }

    private sealed class HoldState
    {
        public readonly HashSet<MqttSession> WaitingOn = new(ReferenceEqualityComparer.Instance);
        public readonly Queue<(MqttPacket Ack, long Ticket)> Acks = new();
        public long TimesSlowed;
        public long HeldSince;
    }
}
