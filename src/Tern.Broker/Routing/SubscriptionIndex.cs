using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Topic trie of every subscription, with a bounded match cache keyed by topic name.
/// Matching takes no lock: the trie's children are read lock-free, and each node publishes an
/// immutable <see cref="MatchResult"/> of its own subscribers. Writers (SUBSCRIBE, UNSUBSCRIBE,
/// session end) take <see cref="_writer"/> among themselves, and then drop from the cache only the
/// topics their filter matches (<see cref="MatchCache"/>).
/// </summary>
internal sealed partial class SubscriptionIndex
{
    private readonly Lock _writer = new();
    private readonly Node _root = new();
    private readonly MatchCache _cache = new();
    private PaddedCounter _count;

    /// <summary>Number of subscriptions (each session × filter counts once).</summary>
    public int Count => (int)Volatile.Read(ref _count.Value);

    /// <summary>Adds or replaces the session's subscription to <paramref name="subscription"/>.Filter.</summary>
    public void Add(Subscription subscription)
    {
        bool changed;
        lock (_writer)
        {
            var node = _root;
            foreach (var level in new TopicLevels(subscription.TopicFilter))
            {
                node = node.GetOrAddChild(level);
            }

            changed = node.Add(subscription, out var added);
            if (added)
            {
                Volatile.Write(ref _count.Value, _count.Value + 1);
            }
        }

        if (changed)
        {
            _cache.Invalidate(subscription.TopicFilter);
        }
    }

    /// <summary>Removes the session's subscription to <paramref name="filter"/>; false when there was none.</summary>
    public bool Remove(MqttSession session, string filter)
    {
        string? shareName = null;
        var topicFilter = filter;
        if (MqttTopic.TryParseSharedSubscription(filter, out var group, out var inner))
        {
            shareName = group;
            topicFilter = inner;
        }

        bool removed;
        var changed = false;
        lock (_writer)
        {
            removed = RemoveCore(_root, new TopicLevels(topicFilter), session, shareName, ref changed);
            if (removed)
            {
                Volatile.Write(ref _count.Value, _count.Value - 1);
            }
        }

        if (changed)
        {
            _cache.Invalidate(topicFilter);
        }

        return removed;
    }

    /// <summary>The shared group <c>$share/{name}/{filter}</c>, if it has members.</summary>
    public SharedGroup? FindGroup(string name, string filter)
    {
        var node = _root;
        foreach (var level in new TopicLevels(filter))
        {
            node = node.GetChild(level);
            if (node is null)
            {
                return null;
            }
        }

        foreach (var group in node.Result.Groups)
        {
            if (group.Name == name)
            {
                return group;
            }
        }

        return null;
    }

    /// <summary>Sessions and shared groups subscribed to <paramref name="topic"/>, one entry per session.</summary>
    /// <remarks>
    /// Allocates nothing when the topic is cached. A miss allocates its cache entry, and a new result
    /// only when several trie nodes match (one node's result is shared as it is).
    /// </remarks>
    public MatchResult Match(string topic)
    {
        var hash = MatchCache.Hash(topic);
        if (_cache.Find(topic, hash) is { } cached)
        {
            return cached;
        }

        var version = _cache.Version;
        var found = default(Found);
        // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
        var dollar = topic.Length > 0 && topic[0] == '$';
        Collect(_root, topic.AsSpan(), 0, dollar, ref found);
        var result = found.ToResult();
        _cache.Add(topic, hash, result, version);
        return result;
    }

    /// <summary>Whether <paramref name="topic"/>'s match is cached (for tests).</summary>
    internal bool IsCached(string topic) => _cache.Find(topic, MatchCache.Hash(topic)) is not null;

    private static void Collect(Node node, ReadOnlySpan<char> rest, int depth, bool dollar, ref Found found)
    {
        var wildcardsAllowed = depth > 0 || !dollar;
        if (wildcardsAllowed && node.Hash is { } hash)
        {
            // '#' matches the parent level too ("a/#" matches "a").
            found.Add(hash);
        }

        var slash = rest.IndexOf('/');
        var level = slash < 0 ? rest : rest[..slash];
        var last = slash < 0;

        if (node.Children is { } children && children.TryGet(level, out var child))
        {
            Visit(child, rest, slash, last, depth, dollar, ref found);
        }

        if (wildcardsAllowed && node.Plus is { } plus)
        {
            Visit(plus, rest, slash, last, depth, dollar, ref found);
        }
    }

    private static void Visit(Node child, ReadOnlySpan<char> rest, int slash, bool last, int depth, bool dollar, ref Found found)
    {
        if (last)
        {
            found.Add(child);
            if (child.Hash is { } hash)
            {
                found.Add(hash);
            }

            return;
        }

        Collect(child, rest[(slash + 1)..], depth + 1, dollar, ref found);
    }

    private static bool RemoveCore(Node node, TopicLevels levels, MqttSession session, string? shareName, ref bool changed)
    {
        if (!levels.MoveNext())
        {
            return node.Remove(session, shareName, out changed);
        }

        var child = node.GetChild(levels.Current);
        if (child is null)
        {
            return false;
        }

        var removed = RemoveCore(child, levels, session, shareName, ref changed);
        if (removed && child.IsEmpty)
        {
            node.RemoveChild(levels.Current);
        }

        return removed;
    }

    /// <summary>Results of the trie nodes one lookup reached; allocates only to merge two or more.</summary>
    private struct Found
    {
        private MatchResult? _first;
        private List<MatchResult>? _more;

        public void Add(Node node)
        {
            var result = node.Result;
            if (result.Targets.Length == 0 && result.Groups.Length == 0)
            {
                return;
            }

            if (_first is null)
            {
                _first = result;
            }
            else
            {
                (_more ??= []).Add(result);
            }
        }

        public readonly MatchResult ToResult()
            => _more is null ? _first ?? MatchResult.Empty : Merge(_first!, _more);

        /// <summary>Overlapping subscriptions of one session become one target [MQTT-3.3.5-1].</summary>
        private static MatchResult Merge(MatchResult first, List<MatchResult> more)
        {
            var targetCount = first.Targets.Length;
            var groupCount = first.Groups.Length;
            foreach (var r in more)
            {
                targetCount += r.Targets.Length;
                groupCount += r.Groups.Length;
            }

            var targets = new RouteTarget[targetCount];
            var groups = new SharedGroup[groupCount];
            var bySession = targetCount > 16 ? new Dictionary<MqttSession, int>(targetCount, ReferenceEqualityComparer.Instance) : null;
            var t = 0;
            var g = 0;
            Append(first, targets, ref t, groups, ref g, bySession);
            foreach (var r in more)
            {
                Append(r, targets, ref t, groups, ref g, bySession);
            }

            return new MatchResult(t == targets.Length ? targets : targets[..t], groups);
        }

        private static void Append(MatchResult from, RouteTarget[] targets, ref int t, SharedGroup[] groups, ref int g, Dictionary<MqttSession, int>? bySession)
        {
            from.Groups.CopyTo(groups, g);
            g += from.Groups.Length;
            foreach (var target in from.Targets)
            {
                var at = IndexOf(target.Session, targets, t, bySession);
                if (at < 0)
                {
                    bySession?.Add(target.Session, t);
                    targets[t++] = target;
                }
                else
                {
                    targets[at] = Combine(targets[at], target);
                }
            }
        }

        private static int IndexOf(MqttSession session, RouteTarget[] targets, int count, Dictionary<MqttSession, int>? bySession)
        {
            if (bySession is not null)
            {
                return bySession.TryGetValue(session, out var at) ? at : -1;
            }

            for (var i = 0; i < count; i++)
            {
                if (ReferenceEquals(targets[i].Session, session))
                {
                    return i;
                }
            }

            return -1;
        }

        private static RouteTarget Combine(RouteTarget a, RouteTarget b)
        {
            var ids = a.SubscriptionIdentifiers is null ? b.SubscriptionIdentifiers
                : b.SubscriptionIdentifiers is null ? a.SubscriptionIdentifiers
                : [.. a.SubscriptionIdentifiers, .. b.SubscriptionIdentifiers];
            return new RouteTarget(
                a.Session,
                (MqttQoS)Math.Max((byte)a.QoS, (byte)b.QoS),
                a.NoLocal && b.NoLocal,
                a.RetainAsPublished || b.RetainAsPublished,
                ids);
        }
    }
}
