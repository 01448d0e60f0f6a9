using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// A stored session inside the broker that code in the process takes messages from (a bridge
/// forwarding to a remote broker while the broker has a store). Opened with
/// <see cref="MqttBroker.OpenInProcessSession"/>. Messages wait in the session, in the store, until
/// taken; a QoS 1/2 message taken stays there until <see cref="Complete"/>, so a restart or a crash
/// of the process gives back what was not completed, first and in order.
/// </summary>
public sealed class InProcessSession : IDisposable
{
    private readonly MqttBroker _broker;
    private readonly MqttSession _session;
    private readonly PullConsumer _consumer;

    internal InProcessSession(MqttBroker broker, MqttSession session, PullConsumer consumer)
    {
        _broker = broker;
        _session = session;
        _consumer = consumer;
    }

    /// <summary>The session's client id (clients cannot connect with it while the session is open).</summary>
    public string ClientId => _session.ClientId;

    /// <summary>Messages held: queued, and taken but not completed.</summary>
    public int Count => _session.QueuedCount + _session.InflightMessages;

    /// <summary>Messages the session did not get or dropped: its queue was full, or they expired in it.</summary>
    public long Dropped => _session.DroppedTotal;

    /// <summary>Messages the session dropped for <paramref name="reason"/>.</summary>
    public long DroppedFor(DropReason reason) => _session.Dropped(reason);

    /// <summary>
    /// Takes the next message: those taken before and not completed first, then the queue in order.
    /// An MQTT 5 message expiry interval is what remains of it; expired messages are dropped here
    /// (counted as <see cref="DropReason.Expired"/>).
    /// </summary>
    /// <param name="message">The message; <see cref="InProcessMessage.QoS"/> is the QoS it was delivered to the session with.</param>
    /// <param name="id">What to pass to <see cref="Complete"/>; 0 for QoS 0, which leaves the session as it is taken.</param>
    public bool TryTake(out InProcessMessage message, out int id)
    {
        var store = _broker.Store;
        store?.Enter();
        try
        {
            if (!_session.TryTake(out var delivery, out var packetId))
            {
                message = default;
                id = 0;
                return false;
            }

            var m = delivery.Message;
            var properties = m.HasExpiry ? m.Properties! with { MessageExpiryInterval = m.RemainingExpirySeconds(_broker.NowMs) } : m.Properties;
            message = new InProcessMessage(m.Topic, m.Payload, delivery.QoS, delivery.Retain, properties);
            id = packetId;
            return true;
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>Removes a taken QoS 1/2 message from the session for good (its recipient acknowledged it, or refused it).</summary>
    public void Complete(int id)
    {
        if (id is <= 0 or > ushort.MaxValue)
        {
            return;
        }

        var store = _broker.Store;
        store?.Enter();
        try
        {
            _session.Complete((ushort)id);
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>Stops the signals; the session stays in the store and keeps queueing within its bound until the next open.</summary>
    public void Dispose() => _consumer.Stop();
}
