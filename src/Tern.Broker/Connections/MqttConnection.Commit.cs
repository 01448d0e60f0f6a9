using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Packets that confirm what only the store makes true wait here until the store writer committed
/// it (see <c>Persistence/StoreWriter.cs</c>): the PUBACK/PUBREC of a message a stored session took
/// or a retained message, the SUBACK/UNSUBACK of a stored session, PUBREL and PUBCOMP of its QoS 2
/// flows, and a QoS 2 PUBLISH to it. They leave in the order they came; without a store, or with
/// nothing waiting, a packet goes straight out.
/// </summary>
internal sealed partial class MqttConnection
{
    private CommitGate? _gate;

    /// <summary>Queues a control packet once <paramref name="ticket"/> is committed (0: now, behind any that wait).</summary>
    public void SendControlAfterCommit(MqttPacket packet, long ticket, Action? then = null)
    {
        if (!TryGate(OutboundItem.Packet(packet), ticket, then))
        {
            SendControl(packet);
            then?.Invoke();
        }
    }

    /// <summary>
    /// Queues a QoS 1/2 PUBLISH, after <paramref name="ticket"/> is committed when it is not 0, and
    /// behind any PUBLISH that waits (a session sends under its lock, so this sees its own).
    /// </summary>
    public void SendPublish(in Delivery delivery, ushort packetId, bool dup, long ticket)
    {
        var item = OutboundItem.Publish(delivery.Message, delivery.QoS, delivery.Retain, packetId, dup, delivery.SubscriptionIds);
        if ((ticket == 0 && (Volatile.Read(ref _gate) is not { } gate || Volatile.Read(ref gate.Count) == 0)) || !TryGate(item, ticket, null))
        {
            _outbound.TryAdd(item);
        }
    }

    /// <summary>The store writer committed a batch: what waited for it goes out, in order.</summary>
    internal void ReleaseCommitted() => Release(fromWriter: true);

    private void Release(bool fromWriter)
    {
        var gate = Volatile.Read(ref _gate);
        var store = _broker.Store;
        if (gate is null || store is null)
        {
            return;
        }

        lock (gate)
        {
            if (fromWriter)
            {
                gate.Registered = false;
            }

            if (gate.Releasing)
            {
                // The thread releasing now looks again before it stops.
                return;
            }

            gate.Releasing = true;
        }

        // Only the releasing thread touches the list (one at a time, see Releasing).
        var ready = gate.Ready;
        while (true)
        {
            var committed = store.Committed;
            var register = false;
            bool done;
            lock (gate)
            {
                while (gate.Items.Count > 0 && gate.Items.Peek().Ticket <= committed)
                {
                    var (_, item, then) = gate.Items.Dequeue();
                    ready.Add((item, then));
                }

                // Decided under the lock: once Releasing is false another thread may fill the list.
                done = ready.Count == 0;
                if (done)
                {
                    gate.Releasing = false;
                    if (gate.Items.Count > 0 && !gate.Registered)
                    {
                        gate.Registered = register = true;
                    }
                }
            }

            if (done)
            {
                if (register)
                {
                    store.WaitForCommit(this);
                }

                return;
            }

            // Sent outside the lock (a follow-up such as retained messages takes session locks), by
            // one thread at a time, so the order holds.
            foreach (var (item, then) in ready)
            {
                if (item.Control is { } packet)
                {
                    SendControl(packet);
                }
                else
                {
                    _outbound.TryAdd(item);
                }

                then?.Invoke();
            }

            lock (gate)
            {
                // Counted until sent, so that a PUBLISH that need not wait does not overtake these.
                gate.Count = Math.Max(0, gate.Count - ready.Count);
            }

            ready.Clear();
        }
    }

    /// <summary>The store could not write what this connection waits for: its client must not be told it was.</summary>
    internal void OnStoreFailed()
    {
        if (Volatile.Read(ref _gate) is { } gate)
        {
            lock (gate)
            {
                gate.Registered = false;
                gate.Items.Clear();
                gate.Count = 0;
            }
        }

        Close("the store cannot write: acknowledgements that need it are withheld", publishWill: true, ReasonCode.UnspecifiedError);
    }

    /// <summary>False when the item can go now (nothing to wait for, and nothing waiting before it).</summary>
    private bool TryGate(OutboundItem item, long ticket, Action? then)
    {
        var store = _broker.Store;
        if (store is null)
        {
            return false;
        }

        var gate = Volatile.Read(ref _gate);
        if (gate is null)
        {
            if (ticket <= store.Committed)
            {
                return false;
            }

            gate = Interlocked.CompareExchange(ref _gate, new CommitGate(), null) ?? _gate!;
        }

        var register = false;
        lock (gate)
        {
            if (gate.Items.Count == 0 && !gate.Releasing && ticket <= store.Committed)
            {
                return false;
            }

            gate.Items.Enqueue((ticket, item, then));
            gate.Count++;
            if (!gate.Registered)
            {
                gate.Registered = register = true;
            }
        }

        if (register)
        {
            store.WaitForCommit(this);
        }

        // The batch may have committed before the writer knew of this connection. If not, the writer
        // releases the item after that commit: the gate is registered with it, or the thread that is
        // releasing registers it again before it stops.
        if (ticket <= store.Committed)
        {
            Release(fromWriter: false);
        }

        return true;
    }

    private sealed class CommitGate
    {
        public readonly Queue<(long Ticket, OutboundItem Item, Action? Then)> Items = new();

        // What the releasing thread takes out of Items to send outside the lock.
        public readonly List<(OutboundItem Item, Action? Then)> Ready = [];

        // Items waiting or being sent, readable without the lock (changed under it).
        public int Count;

        // Enlisted with the store writer for its next commit.
        public bool Registered;

        // One thread sends what is ready at a time, so packets keep their order.
        public bool Releasing;
    }
}
