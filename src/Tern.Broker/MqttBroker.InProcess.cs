using Tern.Protocol;

namespace Tern.Broker;

public sealed partial class MqttBroker
{
    private readonly Lock _inProcessGate = new();

    // Copy on write: routing reads the array without a lock, and an empty one costs a length check.
    // Each entry's filters are matched one by one: in-process subscribers are a few bridges with a
    // few rules each, not worth a place in the subscription index.
    private InProcessEntry[] _inProcess = [];

    /// <summary>
    /// Gives <paramref name="subscriber"/> every message routed from now on that matches one of its
    /// filters (except those published with its own origin). Dispose the result to remove it.
    /// </summary>
    public IDisposable AddInProcessSubscriber(IInProcessSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        var filters = subscriber.Filters.ToArray();
        foreach (var filter in filters)
        {
            if (!MqttTopic.IsValidTopicFilter(filter))
            {
                throw new ArgumentException($"'{filter}' is not a valid topic filter.", nameof(subscriber));
            }
        }

        var entry = new InProcessEntry(this, subscriber, filters);
        lock (_inProcessGate)
        {
            _inProcess = [.. _inProcess, entry];
        }

        return entry;
    }

    /// <summary>
    /// Opens the stored session <paramref name="clientId"/> for code in the process to take messages
    /// from (see <see cref="InProcessSession"/>), or finds it again after a restart with what it held.
    /// Its subscriptions become <paramref name="subscriptions"/>. It holds at most
    /// <paramref name="maxQueued"/> messages (queued and taken together); more are dropped and counted as
    /// <paramref name="queueFullReason"/>. <paramref name="available"/> is called, on a publisher's thread
    /// and under the session's lock, when a message is queued: it must only wake the consumer.
    /// Messages published with <see cref="Publish(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?, string?)"/>
    /// and <paramref name="clientId"/> as origin do not come back to it when a subscription asks for no local.
    /// </summary>
    /// <exception cref="InvalidOperationException">The broker has no store or has not started, or the session is in use.</exception>
    public InProcessSession OpenInProcessSession(string clientId, IReadOnlyList<TopicSubscription> subscriptions, int maxQueued, DropReason queueFullReason, Action available)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentNullException.ThrowIfNull(subscriptions);
        ArgumentNullException.ThrowIfNull(available);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueued, 1);
        foreach (var subscription in subscriptions)
        {
            if (!MqttTopic.IsValidTopicFilter(subscription.Filter))
            {
                throw new ArgumentException($"'{subscription.Filter}' is not a valid topic filter.", nameof(subscriptions));
            }
        }

        // After Start: the store's restore would replace the session.
        if (Store is not { } store || _timerLoop is null)
        {
            throw new InvalidOperationException("An in-process session needs a broker with a store, started.");
        }

        var session = Sessions.OpenPulled(clientId, store);
        var consumer = new PullConsumer(maxQueued, queueFullReason, available);
        session.StartPull(consumer);
        store.Enter();
        try
        {
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var subscription in subscriptions)
            {
                wanted.Add(subscription.Filter);
            }

            string[] existing;
            lock (session.Sync)
            {
                existing = session.SubscriptionsIfAny?.Keys.ToArray() ?? [];
            }

            foreach (var filter in existing)
            {
                if (!wanted.Contains(filter))
                {
                    session.Unsubscribe(filter, out _);
                }
            }

            foreach (var subscription in subscriptions)
            {
                session.Subscribe(subscription.Filter, subscription.Options, null, 0, out _);
            }
        }
        finally
        {
            store.Exit();
        }

        return new InProcessSession(this, session, consumer);
    }

    /// <summary>
    /// Publishes a message from inside the process on behalf of <paramref name="origin"/>: the in-process
    /// subscriber with that origin does not get it back (see <see cref="IInProcessSubscriber.Origin"/>).
    /// </summary>
    /// <returns>false when no subscription matched the topic.</returns>
    public bool Publish(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos, bool retain, MqttProperties? properties, string? origin)
    {
        if (!MqttTopic.IsValidTopicName(topic))
        {
            throw new ArgumentException($"'{topic}' is not a valid topic name.", nameof(topic));
        }

        var store = Store;
        store?.Enter();
        try
        {
            // The origin as publisher too: an in-process session of that name subscribed with no local skips it.
            return Route(new ApplicationMessage(topic, payload, qos, retain, properties, origin, NowMs) { Origin = origin });
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>Counts a message an in-process subscriber could not take (a bridge's full queue) with its reason.</summary>
    public void CountDropped(DropReason reason, long count = 1) => Dropped(reason, null, count);

    private bool DeliverInProcess(InProcessEntry[] entries, ApplicationMessage message)
    {
        var matched = false;
        foreach (var entry in entries)
        {
            if (message.Origin is { } origin && origin == entry.Subscriber.Origin)
            {
                continue;
            }

            foreach (var filter in entry.Filters)
            {
                if (MqttTopic.Matches(filter, message.Topic))
                {
                    matched = true;
                    entry.Subscriber.OnMessage(new InProcessMessage(message.Topic, message.Payload, message.QoS, message.Retain, message.Properties));
                    break;
                }
            }
        }

        return matched;
    }

    private void Remove(InProcessEntry entry)
    {
        lock (_inProcessGate)
        {
            _inProcess = Array.FindAll(_inProcess, e => !ReferenceEquals(e, entry));
        }
    }

    private sealed class InProcessEntry(MqttBroker broker, IInProcessSubscriber subscriber, string[] filters) : IDisposable
    {
        public IInProcessSubscriber Subscriber { get; } = subscriber;

        public string[] Filters { get; } = filters;

        public void Dispose() => broker.Remove(this);
    }
}
