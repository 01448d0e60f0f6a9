using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// The session's subscriptions, changed only here: the map and the subscription index move together
/// under the session's lock (lock order session → index), and a store can follow every change.
/// </summary>
internal sealed partial class MqttSession
{
    /// <summary>What became of one filter of a SUBSCRIBE.</summary>
    public enum SubscribeOutcome
    {
        Added,
        Replaced,
        Ended,
        TooMany,
    }

    /// <summary>Adds or replaces the subscription to <paramref name="filter"/>; at most <paramref name="maxSubscriptions"/> (0: no limit).</summary>
    public SubscribeOutcome Subscribe(string filter, SubscriptionOptions options, uint? subscriptionId, int maxSubscriptions, out long ticket)
    {
        lock (Sync)
        {
            ticket = 0;
            if (Ended)
            {
                return SubscribeOutcome.Ended;
            }

            var subscriptions = _subscriptions ??= new(StringComparer.Ordinal);
            var existed = subscriptions.ContainsKey(filter);
            if (!existed && maxSubscriptions > 0 && subscriptions.Count >= maxSubscriptions)
            {
                return SubscribeOutcome.TooMany;
            }

            var subscription = Subscription.Create(this, filter, options, subscriptionId);
            subscriptions[filter] = subscription;
            _broker.Index.Add(subscription);
            ticket = Record(SessionChange.Subscribed(subscription));
            return existed ? SubscribeOutcome.Replaced : SubscribeOutcome.Added;
        }
    }

    /// <summary>Removes the subscription to <paramref name="filter"/>; false when there was none. <paramref name="ticket"/>: the commit UNSUBACK waits for.</summary>
    public bool Unsubscribe(string filter, out long ticket)
    {
        lock (Sync)
        {
            ticket = 0;
            if (_subscriptions is null || !_subscriptions.Remove(filter) || !_broker.Index.Remove(this, filter))
            {
                return false;
            }

            ticket = Record(SessionChange.Unsubscribed(filter));
            return true;
        }
    }
}
