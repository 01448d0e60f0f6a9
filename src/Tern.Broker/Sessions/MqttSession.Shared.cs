namespace Tern.Broker;

internal sealed partial class MqttSession
{
    /// <summary>
    /// Takes out the QoS 1/2 messages that reached this session through a shared subscription and
    /// are not yet acknowledged, so the group can give them to another member (the member left).
    /// </summary>
    public List<Delivery>? TakeSharedDeliveries()
    {
        lock (_sync)
        {
            return TakeSharedDeliveriesLocked();
        }
    }

    private List<Delivery>? TakeSharedDeliveriesLocked()
    {
        {
            List<Delivery>? taken = null;
            List<ushort>? ids = null;
            if (_inflight is not null)
            {
                foreach (var (id, message) in _inflight)
                {
                    // A released QoS 2 message was received by the client; only PUBCOMP is missing.
                    if (message.Delivery.Group is not null && !message.Released)
                    {
                        (taken ??= []).Add(message.Delivery);
                        (ids ??= []).Add(id);
                    }
                }

                foreach (var id in ids ?? [])
                {
                    _inflight.Remove(id);
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
                        (taken ??= []).Add(queued);
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
