using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private void HandleSubscribe(SubscribePacket subscribe)
    {
        var session = _session!;
        var options = _broker.Options;
        var codes = new byte[subscribe.Subscriptions.Count];
        uint? subscriptionId = IsV5 && subscribe.Properties?.SubscriptionIdentifiers is [var id, ..] ? id : null;
        if (subscriptionId is not null && !options.SubscriptionIdentifiersAvailable)
        {
            throw new MqttProtocolException(ReasonCode.SubscriptionIdentifiersNotSupported, "subscription identifiers are not available");
        }

        List<(string Filter, MqttQoS QoS)>? retainedFor = null;
        long ticket = 0;
        for (var i = 0; i < codes.Length; i++)
        {
            var (filter, requested) = subscribe.Subscriptions[i];
            var refusal = CheckFilter(filter, out var shared);
            if (refusal != 0)
            {
                codes[i] = IsV5 ? (byte)refusal : (byte)0x80;
                continue;
            }

            var granted = (MqttQoS)Math.Min((int)requested.QoS, options.MaximumQoS);
            if (IsBridge && !shared)
            {
                // Mosquitto's bridge convention: what a bridge published does not go back to it, and
                // retained flags pass as published, so that the broker behind it keeps them.
                requested = requested with { NoLocal = true, RetainAsPublished = true };
            }

            var outcome = session.Subscribe(filter, requested with { QoS = granted }, subscriptionId, options.MaxSubscriptionsPerClient, out var stored);
            ticket = Math.Max(ticket, stored);
            if (outcome == MqttSession.SubscribeOutcome.Ended)
            {
                codes[i] = (byte)ReasonCode.UnspecifiedError;
                continue;
            }

            if (outcome == MqttSession.SubscribeOutcome.TooMany)
            {
                codes[i] = IsV5 ? (byte)ReasonCode.QuotaExceeded : (byte)0x80;
                continue;
            }

            var existed = outcome == MqttSession.SubscribeOutcome.Replaced;
            codes[i] = (byte)granted;
            // [MQTT-3.3.1-6] retained messages on subscribe; retain handling 1 only for a new
            // subscription, 2 never; never for a shared subscription [MQTT-3.8.4-4 note].
            var sendRetained = !shared && (!IsV5
                || requested.RetainHandling == 0
                || (requested.RetainHandling == 1 && !existed));
            if (sendRetained)
            {
                (retainedFor ??= []).Add((filter, granted));
            }
        }

        // A stored subscription is acknowledged once committed; retained messages follow the SUBACK.
        SendControlAfterCommit(
            new SubAckPacket { PacketId = subscribe.PacketId, ReasonCodes = codes },
            ticket,
            retainedFor is null ? null : () => SendRetained(session, retainedFor, subscriptionId));
    }

    /// <summary>0 when the filter can be subscribed, else the MQTT 5 reason code.</summary>
    private ReasonCode CheckFilter(string filter, out bool shared)
    {
        var options = _broker.Options;
        shared = false;
        if (!MqttTopic.IsValidTopicFilter(filter) || PublishRules.CountLevels(filter) > options.MaxTopicLevels)
        {
            return ReasonCode.TopicFilterInvalid;
        }

        if (MqttTopic.TryParseSharedSubscription(filter, out _, out var inner))
        {
            shared = true;
            if (!options.SharedSubscriptionAvailable)
            {
                return ReasonCode.SharedSubscriptionsNotSupported;
            }

            filter = inner;
        }

        if (!options.WildcardSubscriptionAvailable && MqttTopic.HasWildcards(filter))
        {
            return ReasonCode.WildcardSubscriptionsNotSupported;
        }

        if (!MaySubscribe(filter))
        {
            Log.SubscribeDenied(_logger, ClientId, filter);
            return ReasonCode.NotAuthorized;
        }

        return 0;
    }

    private void SendRetained(MqttSession session, List<(string Filter, MqttQoS QoS)> filters, uint? subscriptionId)
    {
        uint[]? ids = subscriptionId is { } id ? [id] : null;
        foreach (var (filter, granted) in filters)
        {
            foreach (var message in _broker.Retained.Match(filter))
            {
                var qos = message.QoS < granted ? message.QoS : granted;
                session.DeliverRetained(new Delivery(message, qos, Retain: true, ids, null));
            }
        }
    }

    private void HandleUnsubscribe(UnsubscribePacket unsubscribe)
    {
        var session = _session!;
        var codes = new byte[unsubscribe.Filters.Count];
        long ticket = 0;
        for (var i = 0; i < codes.Length; i++)
        {
            var filter = unsubscribe.Filters[i];
            var removed = session.Unsubscribe(filter, out var stored);
            ticket = Math.Max(ticket, stored);

            codes[i] = removed ? (byte)ReasonCode.Success : (byte)ReasonCode.NoSubscriptionExisted;
        }

        SendControlAfterCommit(new UnsubAckPacket { PacketId = unsubscribe.PacketId, ReasonCodes = codes }, ticket);
    }
}
