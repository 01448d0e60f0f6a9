using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// A stored session that code inside the process takes its messages from (<see cref="InProcessSession"/>,
/// a bridge when the broker has a store). It never has a connection: what it is given waits in its
/// queue, QoS 0 included, bounded by the consumer's limit; a QoS 1/2 message taken moves to the
/// in-flight window under a local id and leaves the session (and the store) only when the consumer
/// completes it. After a restart, what was taken and not completed is taken again first, in order.
/// Deliver looks at <see cref="_pull"/> only on its offline paths, so connected clients pay nothing.
/// </summary>
internal sealed partial class MqttSession
{
    private PullConsumer? _pull;

    /// <summary>An in-process consumer owns the session: clients cannot connect with its client id.</summary>
    public bool IsPulled => Volatile.Read(ref _pull) is not null;

    /// <summary>Makes <paramref name="consumer"/> the session's consumer; what an earlier one took and did not complete is taken again.</summary>
    internal void StartPull(PullConsumer consumer)
    {
        lock (Sync)
        {
            _unsent = 0;
            if (_inflight is not null)
            {
                foreach (var (_, message) in _inflight)
                {
                    message.Unsent = true;
                    _unsent++;
                }
            }

            Volatile.Write(ref _pull, consumer);
        }
    }

    /// <summary>The next message for the consumer: those taken before and not completed first, then the queue.</summary>
    /// <param name="delivery">The message as it was delivered to the session.</param>
    /// <param name="id">The id to complete it with; 0 for QoS 0, which leaves the session as it is taken.</param>
    internal bool TryTake(out Delivery delivery, out ushort id)
    {
        lock (Sync)
        {
            var now = _broker.NowMs;
            while (_unsent > 0 && FirstUnsent() is { } again)
            {
                again.Unsent = false;
                _unsent--;
                if (again.Delivery.Message.IsExpired(now))
                {
                    _inflight!.Remove(again.PacketId, out _);
                    Record(SessionChange.Removed(again.Delivery));
                    _broker.Dropped(DropReason.Expired, this);
                    continue;
                }

                delivery = again.Delivery;
                id = again.PacketId;
                return true;
            }

            while (_queue is { Count: > 0 })
            {
                if (!DequeueLive(now, out var next))
                {
                    continue;
                }

                delivery = next;
                if (next.QoS == MqttQoS.AtMostOnce)
                {
                    Record(SessionChange.Removed(next));
                    id = 0;
                    return true;
                }

                id = NextPacketId();
                Record(SessionChange.Sent(next, id));
                (_inflight ??= new()).Add(id, new InflightMessage(next));
                return true;
            }

            delivery = default;
            id = 0;
            return false;
        }
    }

    /// <summary>The consumer is done with a message it took (its final recipient acknowledged it, or refused it for good).</summary>
    internal void Complete(ushort id)
    {
        lock (Sync)
        {
            if (_inflight is not null && _inflight.Remove(id, out var message))
            {
                _unsent -= message.Unsent ? 1 : 0;
                Record(SessionChange.Removed(message.Delivery));
            }
        }
    }

    /// <summary>Under the lock: queues for the consumer within its bound (queued and taken together) and tells it.</summary>
    private bool EnqueuePulled(in Delivery delivery, PullConsumer pull, MqttConnection? publisher)
    {
        if (QueueCount + InflightCount >= pull.MaxQueued)
        {
            _broker.Dropped(pull.QueueFullReason, this);
            return false;
        }

        var queued = Sequenced(delivery);
        if (_store is not null)
        {
            // The publisher's PUBACK waits for this commit: what it was told is taken survives a crash.
            Record(SessionChange.Added(queued, 0));
            publisher?.NoteStored();
        }

        (_queue ??= new()).Enqueue(queued);
        _queuedBytes += Size(queued);
        publisher?.NoteDelivered();
        pull.Signal();
        return false;
    }

    private InflightMessage? FirstUnsent()
    {
        foreach (var (_, message) in _inflight!)
        {
            if (message.Unsent)
            {
                return message;
            }
        }

        return null;
    }
}

/// <summary>Who takes a pulled session's messages: its bound, the reason a full queue counts, and how to wake it.</summary>
internal sealed class PullConsumer(int maxQueued, DropReason queueFullReason, Action available)
{
    private Action? _available = available;

    public int MaxQueued { get; } = maxQueued;

    public DropReason QueueFullReason { get; } = queueFullReason;

    /// <summary>Tells the consumer there is something to take; it must not block (it runs under the session's lock).</summary>
    public void Signal() => Volatile.Read(ref _available)?.Invoke();

    /// <summary>No more signals: the consumer stopped; messages keep queueing within the bound.</summary>
    public void Stop() => Volatile.Write(ref _available, null);
}
