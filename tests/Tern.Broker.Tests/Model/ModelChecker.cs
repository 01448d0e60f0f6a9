using System.Text;
using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// A delivery the broker owes: <see cref="Message"/> to the session incarnation <see cref="Epoch"/>,
/// or, for a shared subscription, to any one member of <see cref="SharedFilter"/>.
/// </summary>
internal sealed record Requirement(MessageRecord Message, Epoch? Epoch, string? SharedFilter)
{
    public bool IsMet(ModelState model) => Epoch is { } epoch
        ? epoch.LiveReceived.Contains(Message.Id)
        : model.Epochs.Any(e => e.Filters.ContainsKey(SharedFilter!) && e.LiveReceived.Contains(Message.Id));

    public override string ToString() => Epoch is { } epoch
        ? $"{Message} owed to {epoch}"
        : $"{Message} owed to one member of '{SharedFilter}'";
}

/// <summary>
/// The model's judgement. Every check works from stamps: a subscription took effect between its
/// SUBSCRIBE's stamp and its SUBACK's, a message was routed between its first PUBLISH's stamp and its
/// acknowledgement's. Where those windows overlap, the model does not know the order the broker saw,
/// and the delivery is allowed but not required.
/// </summary>
internal static class ModelChecker
{
    /// <summary>
    /// Deliveries owed at the end, for sessions alive at the end. Call under the model lock, after
    /// every publish was acknowledged or abandoned.
    /// </summary>
    public static List<Requirement> Requirements(ModelState model)
    {
        var owed = new List<Requirement>();
        var messages = model.Messages.Values.Where(m => m.Acked is not null && m.QoS != MqttQoS.AtMostOnce && m.Id.Publisher != MsgId.FencePublisher).ToList();
        foreach (var epoch in model.Epochs.Where(e => e.Alive && e.Actor.Role == ActorRole.Plain))
        {
            foreach (var message in messages)
            {
                // The subscriptions that certainly existed, at the QoS they certainly had, for the
                // whole time the broker may have been routing the message. A subscription made after
                // the acknowledgement, removed before the publish, or changing while the message was
                // in flight does not make it owed.
                var certain = -1;
                foreach (var timeline in epoch.Filters.Values)
                {
                    if (!timeline.Shared && ModelTopics.Matches(timeline.TopicFilter, message.Topic))
                    {
                        certain = Math.Max(certain, timeline.PossibleQoS(message.FirstSend, message.Acked!.Value).Min);
                    }
                }

                if (Math.Min((int)message.QoS, certain) >= 1)
                {
                    owed.Add(new Requirement(message, epoch, null));
                }
            }
        }

        foreach (var shared in ModelTopics.SharedFilters)
        {
            var members = model.Epochs.Where(e => e.Filters.ContainsKey(shared)).ToList();
            var topicFilter = ModelTopics.TopicFilterOf(shared);
            foreach (var message in messages.Where(m => ModelTopics.Matches(topicFilter, m.Topic)))
            {
                // Members subscribe at QoS 1 or 2, so the message is owed when any member certainly
                // held the subscription while it was routed. When a member that may have been given
                // it ended its session afterwards, the broker "should" hand it to another member
                // (MQTT 5, 4.8.2), not must: such a message is not counted as owed.
                var held = members.Any(e => (e.EndedFrom is null || e.EndedFrom > message.Acked) && e.Filters[shared].PossibleQoS(message.FirstSend, message.Acked!.Value).Min >= 1);
                var excused = members.Any(e => e.EndedFrom is not null && e.EndedBy >= message.FirstSend && e.Filters[shared].PossibleQoS(message.FirstSend, e.EndedBy).Max >= 0);
                if (held && !excused)
                {
                    owed.Add(new Requirement(message, null, shared));
                }
            }
        }

        return owed;
    }

    /// <summary>
    /// What the broker must never do, whatever the timing: deliver a QoS 2 message twice to one
    /// session, deliver outside every subscription, at a QoS no subscription could give, out of
    /// order, or (shared) to two members that both stayed connected. Call under the model lock.
    /// </summary>
    public static void CheckSafety(ModelState model, List<string> violations)
    {
        foreach (var epoch in model.Epochs)
        {
            CheckDeliveries(model, epoch, violations);
            CheckExactlyOnce(model, epoch, violations);
            if (epoch.Actor.Role == ActorRole.Plain)
            {
                CheckOrder(model, epoch, violations);
            }
        }

        CheckSharedCopies(model, violations);
    }

    /// <summary>
    /// [MQTT-3.3.1-6] a new subscription gets the retained message of every matching topic (3.1.1
    /// [MQTT-3.8.4-3]: also when it replaces one). Checked where the model is sure: a topic that had
    /// a retained message acknowledged before the SUBSCRIBE was written (retained messages are never
    /// cleared here), on a connection that stayed open to the end, when nothing may be dropped.
    /// Call under the model lock, after the fences. Returns how many retained copies were owed.
    /// </summary>
    public static int CheckRetainedOnSubscribe(ModelState model, List<string> violations)
    {
        var owed = 0;
        var retained = model.Messages.Values.Where(m => m.Retain && m.Acked is not null).ToList();
        foreach (var epoch in model.Epochs.Where(e => e.Actor.Role == ActorRole.Plain))
        {
            foreach (var timeline in epoch.Filters.Values.Where(t => !t.Shared))
            {
                foreach (var change in timeline.Changes.Where(c => c.QoS >= 0 && c.End != SubscriptionChange.Open && !model.ClosedConnections.Contains(c.Connection)))
                {
                    foreach (var topic in ModelTopics.Topics.Where(t => ModelTopics.Matches(timeline.TopicFilter, t)))
                    {
                        var stored = retained.FirstOrDefault(m => m.Topic == topic && m.Acked < change.Start);
                        owed += stored is null ? 0 : 1;
                        if (stored is not null && !epoch.Deliveries.Any(d => d.Retain && d.Connection == change.Connection && d.Stamp > change.Start && model.Messages[d.Message].Topic == topic))
                        {
                            violations.Add($"{epoch}: no retained message for '{topic}' after SUBSCRIBE '{timeline.Filter}' q{change.QoS} on #{change.Connection} @{change.Start}, though {stored} was stored before [MQTT-3.3.1-6]");
                        }
                    }
                }
            }
        }

        return owed;
    }

    private static void CheckDeliveries(ModelState model, Epoch epoch, List<string> violations)
    {
        foreach (var delivery in epoch.Deliveries)
        {
            var message = model.Messages[delivery.Message];
            if (message.Id.Publisher == MsgId.FencePublisher)
            {
                continue;
            }

            if (delivery.Retain)
            {
                // A retained copy comes from the store when a subscription is made [MQTT-3.3.1-6]; live
                // copies carry RETAIN 0 [MQTT-3.3.1-9], and shared subscriptions get no retained messages.
                if (!message.Retain || epoch.Actor.Role == ActorRole.Shared)
                {
                    violations.Add($"{epoch} received {delivery} with RETAIN 1: {message}" + (message.Retain ? " (shared subscription)" : " was not published retained"));
                    continue;
                }

                var (_, max) = Possible(epoch, message, shared: false, message.FirstSend, delivery.Stamp);
                if (max < 0)
                {
                    violations.Add($"{epoch} received retained {delivery} but held no matching subscription since {message} was published{Environment.NewLine}{epoch.Describe()}");
                }

                continue;
            }

            // Plain: routed while the publish was in flight. Shared: also later, handed on when a member leaves.
            var shared = epoch.Actor.Role == ActorRole.Shared;
            var until = shared ? delivery.Stamp : Math.Min(message.Acked ?? SubscriptionChange.Open, delivery.Stamp);
            var (certain, possible) = Possible(epoch, message, shared, message.FirstSend, until);
            if (possible < 0)
            {
                violations.Add($"{epoch} received {delivery} but no subscription of it matched '{message.Topic}' while {message} was routed{Environment.NewLine}{epoch.Describe()}");
                continue;
            }

            // [MQTT-3.8.4-8] the lower of the publish QoS and the granted QoS (the highest of
            // overlapping subscriptions, [MQTT-3.3.5-1]).
            var low = Math.Min((int)message.QoS, Math.Max(certain, 0));
            var high = Math.Min((int)message.QoS, possible);
            if ((int)delivery.QoS < low || (int)delivery.QoS > high)
            {
                violations.Add($"{epoch} received {delivery} at q{(int)delivery.QoS}; its subscriptions allow q{low}..q{high} for {message}{Environment.NewLine}{epoch.Describe()}");
            }
        }
    }

    private static (int Certain, int Possible) Possible(Epoch epoch, MessageRecord message, bool shared, long from, long to)
    {
        var certain = -1;
        var possible = -1;
        foreach (var timeline in epoch.Filters.Values)
        {
            if (timeline.Shared == shared && ModelTopics.Matches(timeline.TopicFilter, message.Topic))
            {
                var (min, max) = timeline.PossibleQoS(from, to);
                certain = Math.Max(certain, min);
                possible = Math.Max(possible, max);
            }
        }

        return (certain, possible);
    }

    /// <summary>[MQTT-4.3.3] a QoS 2 message reaches a session's application once.</summary>
    private static void CheckExactlyOnce(ModelState model, Epoch epoch, List<string> violations)
    {
        foreach (var copies in epoch.Deliveries.Where(d => !d.Retain).GroupBy(d => d.Message))
        {
            if (copies.Count() > 1 && copies.Any(d => d.QoS == MqttQoS.ExactlyOnce))
            {
                violations.Add($"{epoch} received QoS 2 {model.Messages[copies.Key]} {copies.Count()} times: {string.Join("; ", copies)}{Environment.NewLine}{epoch.Describe()}");
            }
        }
    }

    /// <summary>
    /// [MQTT-4.6.0-6] messages of one publisher on one topic go out in the order the broker received
    /// them. Redelivery after a reconnect may repeat messages, so only each message's first arrival
    /// counts; and a message the publisher sent again (resumed session) may have been received again
    /// after later ones, so it is out of order only if every PUBLISH of it was sent before the later
    /// message's first.
    /// </summary>
    private static void CheckOrder(ModelState model, Epoch epoch, List<string> violations)
    {
        var seen = new HashSet<MsgId>();
        var earlier = new Dictionary<(int Publisher, string Topic), List<(DeliveryRecord Delivery, MessageRecord Message)>>();
        foreach (var delivery in epoch.Deliveries)
        {
            var message = model.Messages[delivery.Message];
            if (delivery.Retain || delivery.QoS == MqttQoS.AtMostOnce || message.Id.Publisher == MsgId.FencePublisher || !seen.Add(message.Id))
            {
                continue;
            }

            var key = (message.Id.Publisher, message.Topic);
            if (!earlier.TryGetValue(key, out var before))
            {
                before = [];
                earlier[key] = before;
            }

            foreach (var (previous, later) in before)
            {
                if (later.Id.Seq > message.Id.Seq && message.LastSend < later.FirstSend)
                {
                    violations.Add($"{epoch} received {delivery} after {previous}: publisher {message.Id.Publisher} on '{message.Topic}' out of order ({message}; {later})");
                    break;
                }
            }

            before.Add((delivery, message));
        }
    }

    /// <summary>
    /// [MQTT-4.8.2-3] a shared subscription's message goes to one member. A QoS 1 message may go to
    /// another member when the first one's connection ends before it acknowledged, so two QoS 1
    /// copies are a fault only when no member lost a connection the message may have been sent on
    /// (one opened before its acknowledgement: the broker may see a close long after we closed) and
    /// the publisher sent it once (a QoS 1 PUBLISH resent is routed again). A QoS 2 message
    /// the first member received must be completed with that member, never sent to another
    /// [MQTT-4.8.2-4] [MQTT-4.8.2-5].
    /// </summary>
    private static void CheckSharedCopies(ModelState model, List<string> violations)
    {
        foreach (var shared in ModelTopics.SharedFilters)
        {
            var members = model.Epochs.Where(e => e.Actor.Role == ActorRole.Shared && e.Filters.ContainsKey(shared)).ToList();
            var copies = members
                .SelectMany(e => e.Deliveries.Where(d => !d.Retain && d.Message.Publisher != MsgId.FencePublisher).Select(d => (Epoch: e, Delivery: d)))
                .GroupBy(x => x.Delivery.Message);
            foreach (var group in copies)
            {
                if (group.Select(x => x.Epoch).Distinct().Count() < 2)
                {
                    continue;
                }

                var copiesText = string.Join("; ", group.Select(x => $"{x.Epoch} {x.Delivery}"));
                if (group.Any(x => x.Delivery.QoS == MqttQoS.ExactlyOnce))
                {
                    violations.Add($"'{shared}': QoS 2 {model.Messages[group.Key]} went to more than one member [MQTT-4.8.2-5]: {copiesText}");
                }
                else if (model.Messages[group.Key] is { Sends: 1 } message
                    && !members.Any(e => e.ClosedConnectionsOpenedAt.Any(opened => opened <= (message.Acked ?? group.Max(x => x.Delivery.Stamp)))))
                {
                    violations.Add($"'{shared}': {model.Messages[group.Key]} went to more than one member, and no member lost a connection it may have been sent on [MQTT-4.8.2-3]: {copiesText}");
                }
            }
        }
    }

    /// <summary>
    /// How many QoS 0 copies may have been lost without breaking a promise: pairs of a message and a
    /// session it may have been routed to at QoS 0 that never received it. The broker's one drop
    /// counter also counts QoS 0 messages for a connection that is closing, so where nothing owed may
    /// be dropped, drops are bounded by this instead of being zero. Call under the model lock.
    /// </summary>
    public static int PossibleQoS0Losses(ModelState model)
    {
        var count = 0;
        foreach (var epoch in model.Epochs)
        {
            var shared = epoch.Actor.Role == ActorRole.Shared;
            foreach (var message in model.Messages.Values)
            {
                if (message.Id.Publisher == MsgId.FencePublisher || epoch.LiveReceived.Contains(message.Id))
                {
                    continue;
                }

                var until = shared ? SubscriptionChange.Open : message.Acked ?? SubscriptionChange.Open;
                var (certain, possible) = Possible(epoch, message, shared, message.FirstSend, until);
                if (possible >= 0 && Math.Min((int)message.QoS, Math.Max(certain, 0)) == 0)
                {
                    count++;
                }
            }
        }

        return count;
    }

    /// <summary>A missing delivery with what the model knew: the subscriber's timelines and what it got from that publisher on that topic.</summary>
    public static string Describe(ModelState model, Requirement missing)
    {
        var text = new StringBuilder();
        text.AppendLine($"missing: {missing}");
        var message = missing.Message;
        var epochs = missing.Epoch is { } one ? [one] : model.Epochs.Where(e => e.Filters.ContainsKey(missing.SharedFilter!)).ToList();
        foreach (var epoch in epochs)
        {
            text.Append("  " + epoch.Describe().Replace("\n", "\n  ", StringComparison.Ordinal));
            var related = epoch.Deliveries.Where(d => d.Message.Publisher == message.Id.Publisher && model.Messages[d.Message].Topic == message.Topic).ToList();
            text.AppendLine($"    received from publisher {message.Id.Publisher} on '{message.Topic}': {(related.Count == 0 ? "nothing" : string.Join("; ", related.TakeLast(12)))}");
        }

        return text.ToString();
    }
}
