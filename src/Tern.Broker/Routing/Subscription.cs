using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One filter a session subscribed to, with its options.</summary>
/// <param name="Session">The subscriber.</param>
/// <param name="Filter">The filter as subscribed (<c>$share/g/a/b</c> for a shared subscription).</param>
/// <param name="Options">Granted QoS and the MQTT 5 options.</param>
/// <param name="SubscriptionIdentifier">MQTT 5 subscription identifier, if given.</param>
/// <param name="ShareName">Group name of a shared subscription, else null.</param>
/// <param name="TopicFilter">The filter matched against topics (without <c>$share/g/</c>).</param>
internal sealed record Subscription(
    MqttSession Session,
    string Filter,
    SubscriptionOptions Options,
    uint? SubscriptionIdentifier,
    string? ShareName,
    string TopicFilter)
{
    public static Subscription Create(MqttSession session, string filter, SubscriptionOptions options, uint? subscriptionIdentifier)
    {
        return MqttTopic.TryParseSharedSubscription(filter, out var group, out var inner)
            ? new Subscription(session, filter, options, subscriptionIdentifier, group, inner)
            : new Subscription(session, filter, options, subscriptionIdentifier, null, filter);
    }
}

/// <summary>
/// A session a topic is delivered to: overlapping subscriptions of one session collapse into one
/// target at the highest granted QoS [MQTT-3.3.5-1].
/// </summary>
internal readonly record struct RouteTarget(MqttSession Session, MqttQoS QoS, bool NoLocal, bool RetainAsPublished, uint[]? SubscriptionIdentifiers);

/// <summary>What a topic matches: plain subscribers, and shared groups that each get one copy.</summary>
internal sealed record MatchResult(RouteTarget[] Targets, SharedGroup[] Groups)
{
    public static readonly MatchResult Empty = new([], []);
}

/// <summary>
/// Members of one <c>$share/{group}/{filter}</c>. <see cref="Members"/> is replaced, never mutated,
/// so a publisher reads a consistent array without a lock.
/// </summary>
internal sealed class SharedGroup(string name, string filter)
{
    private Subscription[] _members = [];
    private uint _next;

    public string Name { get; } = name;

    public string Filter { get; } = filter;

    public Subscription[] Members => Volatile.Read(ref _members);

    public void Set(Subscription[] members) => Volatile.Write(ref _members, members);

    /// <summary>Picks a member, online ones first, other than <paramref name="exclude"/>.</summary>
    public Subscription? Pick(SharedSubscriptionStrategy strategy, MqttSession? exclude)
    {
        var members = Members;
        if (members.Length == 0)
        {
            return null;
        }

        var start = strategy == SharedSubscriptionStrategy.Random
            ? (uint)Random.Shared.Next(members.Length)
            : Interlocked.Increment(ref _next);
        Subscription? offline = null;
        for (var i = 0; i < members.Length; i++)
        {
            var member = members[(start + (uint)i) % (uint)members.Length];
            if (ReferenceEquals(member.Session, exclude))
            {
                continue;
            }

            if (member.Session.IsOnline)
            {
                return member;
            }

            offline ??= member;
        }

        return offline;
    }
}
