using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttSession
{
    /// <summary>
    /// Takes out the messages that reached this session through a shared subscription and were not
    /// sent yet, so the group can give them to another member (the member went offline). Messages
    /// already sent stay: the member gets them again, with their packet ids, when it reconnects.
    /// </summary>
    public List<Delivery>? TakeSharedDeliveries()
    {
        lock (Sync)
        {
            return TakeSharedDeliveriesLocked(sessionEnds: false);
        }
    }

    /// <summary>
    /// With <paramref name="sessionEnds"/>, in-flight QoS 1 messages too (another member should get
    /// them, spec 4.8.2); never an in-flight QoS 2 message, which no other member may get [MQTT-4.8.2-5].
    /// </summary>
    private List<Delivery>? TakeSharedDeliveriesLocked(bool sessionEnds)
    {
        {
            List<Delivery>? taken = null;
            List<ushort>? ids = null;
            if (_inflight is not null && sessionEnds)
            {
                foreach (var (id, message) in _inflight)
                {
                    // The message's own QoS: a QoS 2 message sent at QoS 1 to this member still goes to one member only.
                    if (message.Delivery.Group is not null && message.Delivery.Message.QoS == MqttQoS.AtLeastOnce)
                    {
                        Record(SessionChange.Removed(message.Delivery));
                        (taken ??= []).Add(message.Delivery with { Sequence = 0 });
                        (ids ??= []).Add(id);
                    }
                }

                foreach (var id in ids ?? [])
                {
                    _inflight.Remove(id, out var removed);
                    _unsent -= removed!.Unsent ? 1 : 0;
                }
            }

            if (_queue is { Count: > 0 })
            {
                var count = _queue.Count;
                for (var i = 0; i < count; i++)
                {
                    var queued = _queue.Dequeue();
                    if (queued.Group is not null)
                    {
                        Record(SessionChange.Removed(queued));
                        (taken ??= []).Add(queued with { Sequence = 0 });
                        _queuedBytes -= Size(queued);
                    }
                    else
                    {
                        _queue.Enqueue(queued);
                    }
                }
            }

            return taken;
        }
    }
}
