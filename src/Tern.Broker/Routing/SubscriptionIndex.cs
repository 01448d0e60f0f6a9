using System.Collections.Concurrent;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Topic trie of every subscription, with a bounded match cache keyed by topic name.
/// Writers (SUBSCRIBE/UNSUBSCRIBE/session end) take <see cref="_sync"/> and bump the generation;
/// readers hit the cache without a lock and only take the lock on a miss (nats-server's sublist).
/// </summary>
internal sealed class SubscriptionIndex
{
    private const int MaxCacheEntries = 8192;

    private readonly Lock _sync = new();
    private readonly TrieNode _root = new();
    private readonly ConcurrentDictionary<string, CachedMatch> _cache = new(StringComparer.Ordinal);
    private long _generation;
    private int _cacheWrites;
    private int _count;

    /// <summary>Number of subscriptions (each session × filter counts once).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds or replaces the session's subscription to <paramref name="subscription"/>.Filter.</summary>
    public void Add(Subscription subscription)
    {
        lock (_sync)
        {
            var node = _root;
            foreach (var level in new LevelEnumerator(subscription.TopicFilter))
            {
                node = node.GetOrAddChild(level);
            }

            if (subscription.ShareName is { } shareName)
            {
                AddShared(node, shareName, subscription);
            }
            else
            {
                node.Subscriptions ??= [];
                if (!node.Subscriptions.ContainsKey(subscription.Session))
                {
                    _count++;
                }

                node.Subscriptions[subscription.Session] = subscription;
            }

            Invalidate();
        }
    }

    /// <summary>Removes the session's subscription to <paramref name="filter"/>; false when there was none.</summary>
    public bool Remove(MqttSession session, string filter)
    {
        lock (_sync)
        {
            string? shareName = null;
            var topicFilter = filter;
            if (MqttTopic.TryParseSharedSubscription(filter, out var group, out var inner))
            {
                shareName = group;
                topicFilter = inner;
            }

            var removed = RemoveCore(_root, new LevelEnumerator(topicFilter), session, shareName);
            if (removed)
            {
                _count--;
                Invalidate();
            }

            return removed;
        }
    }

    /// <summary>The shared group <c>$share/{name}/{filter}</c>, if it has members.</summary>
    public SharedGroup? FindGroup(string name, string filter)
    {
        lock (_sync)
        {
            var node = _root;
            foreach (var level in new LevelEnumerator(filter))
            {
                node = node.GetChild(level);
                if (node is null)
                {
                    return null;
                }
            }

            return node.Groups is not null && node.Groups.TryGetValue(name, out var g) ? g : null;
        }
    }

    private void AddShared(TrieNode node, string shareName, Subscription subscription)
    {
        node.Groups ??= new Dictionary<string, SharedGroup>(StringComparer.Ordinal);
        if (!node.Groups.TryGetValue(shareName, out var group))
        {
            group = new SharedGroup(shareName, subscription.TopicFilter);
            node.Groups[shareName] = group;
        }

        var members = group.Members;
        for (var i = 0; i < members.Length; i++)
        {
            if (ReferenceEquals(members[i].Session, subscription.Session))
            {
                var replaced = (Subscription[])members.Clone();
                replaced[i] = subscription;
                group.Set(replaced);
                return;
            }
        }

        group.Set([.. members, subscription]);
        _count++;
    }

    /// <summary>Sessions and shared groups subscribed to <paramref name="topic"/>, one entry per session.</summary>
    public MatchResult Match(string topic)
    {
        var generation = Volatile.Read(ref _generation);
        if (_cache.TryGetValue(topic, out var cached) && cached.Generation == generation)
        {
            return cached.Targets;
        }

        MatchResult targets;
        lock (_sync)
        {
            generation = _generation;
            targets = MatchCore(topic);
        }

        // ConcurrentDictionary.Count takes every lock, so look at it once per MaxCacheEntries writes.
        if (Interlocked.Increment(ref _cacheWrites) >= MaxCacheEntries)
        {
            Volatile.Write(ref _cacheWrites, 0);
            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }
        }

        _cache[topic] = new CachedMatch(generation, targets);
        return targets;
    }

    // Entries of older generations are ignored on lookup and overwritten on the next miss;
    // clearing here would make every SUBSCRIBE cost as much as the cache is large.
    private void Invalidate() => Volatile.Write(ref _generation, _generation + 1);

    private MatchResult MatchCore(string topic)
    {
        var found = new Found();
        // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
        var dollar = topic.Length > 0 && topic[0] == '$';
        Collect(_root, topic.AsSpan(), 0, dollar, ref found);
        if (found.Subscriptions is null && found.Groups is null)
        {
            return MatchResult.Empty;
        }

        return new MatchResult(
            found.Subscriptions is null ? [] : Collapse(found.Subscriptions),
            found.Groups is null ? [] : [.. found.Groups]);
    }

    private static void Collect(TrieNode node, ReadOnlySpan<char> rest, int depth, bool dollar, ref Found found)
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

        if (node.Children is not null && node.ChildLookup.TryGetValue(level, out var child))
        {
            Visit(child, rest, slash, last, depth, dollar, ref found);
        }

        if (wildcardsAllowed && node.Plus is not null)
        {
            Visit(node.Plus, rest, slash, last, depth, dollar, ref found);
        }
    }

    private static void Visit(TrieNode child, ReadOnlySpan<char> rest, int slash, bool last, int depth, bool dollar, ref Found found)
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

    private static RouteTarget[] Collapse(List<Subscription> found)
    {
        if (found.Count == 1)
        {
            var s = found[0];
            return [new RouteTarget(s.Session, s.Options.QoS, s.Options.NoLocal, s.Options.RetainAsPublished, s.SubscriptionIdentifier is { } id ? [id] : null)];
        }

        var bySession = new Dictionary<MqttSession, RouteTarget>(found.Count, ReferenceEqualityComparer.Instance);
        foreach (var s in found)
        {
            if (bySession.TryGetValue(s.Session, out var t))
            {
                var ids = t.SubscriptionIdentifiers;
                if (s.SubscriptionIdentifier is { } id)
                {
                    ids = ids is null ? [id] : [.. ids, id];
                }

                bySession[s.Session] = new RouteTarget(
                    s.Session,
                    (MqttQoS)Math.Max((byte)t.QoS, (byte)s.Options.QoS),
                    t.NoLocal && s.Options.NoLocal,
                    t.RetainAsPublished || s.Options.RetainAsPublished,
                    ids);
            }
            else
            {
                bySession[s.Session] = new RouteTarget(s.Session, s.Options.QoS, s.Options.NoLocal, s.Options.RetainAsPublished, s.SubscriptionIdentifier is { } id ? [id] : null);
            }
        }

        var result = new RouteTarget[bySession.Count];
        bySession.Values.CopyTo(result, 0);
        return result;
    }

    private static bool RemoveCore(TrieNode node, LevelEnumerator levels, MqttSession session, string? shareName)
    {
        if (!levels.MoveNext())
        {
            return shareName is null
                ? node.Subscriptions is not null && node.Subscriptions.Remove(session)
                : RemoveShared(node, shareName, session);
        }

        var child = node.GetChild(levels.Current);
        if (child is null)
        {
            return false;
        }

        var removed = RemoveCore(child, levels, session, shareName);
        if (removed && child.IsEmpty)
        {
            node.RemoveChild(levels.Current);
        }

        return removed;
    }

    private static bool RemoveShared(TrieNode node, string shareName, MqttSession session)
    {
        if (node.Groups is null || !node.Groups.TryGetValue(shareName, out var group))
        {
            return false;
        }

        var members = group.Members;
        var index = Array.FindIndex(members, m => ReferenceEquals(m.Session, session));
        if (index < 0)
        {
            return false;
        }

        var left = new Subscription[members.Length - 1];
        Array.Copy(members, 0, left, 0, index);
        Array.Copy(members, index + 1, left, index, members.Length - index - 1);
        group.Set(left);
        if (left.Length == 0)
        {
            node.Groups.Remove(shareName);
        }

        return true;
    }

    private sealed record CachedMatch(long Generation, MatchResult Targets);

    /// <summary>Collects matches of one lookup; allocates only when something matches.</summary>
    private struct Found
    {
        public List<Subscription>? Subscriptions;
        public List<SharedGroup>? Groups;

        public void Add(TrieNode node)
        {
            if (node.Subscriptions is { Count: > 0 } subs)
            {
                (Subscriptions ??= []).AddRange(subs.Values);
            }

            if (node.Groups is { Count: > 0 } groups)
            {
                (Groups ??= []).AddRange(groups.Values);
            }
        }
    }

    private sealed class TrieNode
    {
        private Dictionary<string, TrieNode>.AlternateLookup<ReadOnlySpan<char>> _lookup;

        public Dictionary<string, TrieNode>? Children { get; private set; }

        public Dictionary<string, TrieNode>.AlternateLookup<ReadOnlySpan<char>> ChildLookup => _lookup;

        public TrieNode? Plus { get; private set; }

        public TrieNode? Hash { get; private set; }

        public Dictionary<MqttSession, Subscription>? Subscriptions { get; set; }

        public Dictionary<string, SharedGroup>? Groups { get; set; }

        public bool IsEmpty => (Children is null || Children.Count == 0) && Plus is null && Hash is null
            && (Subscriptions is null || Subscriptions.Count == 0) && (Groups is null || Groups.Count == 0);

        public TrieNode GetOrAddChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                return Plus ??= new TrieNode();
            }

            if (level is "#")
            {
                return Hash ??= new TrieNode();
            }

            if (Children is null)
            {
                Children = new Dictionary<string, TrieNode>(StringComparer.Ordinal);
                _lookup = Children.GetAlternateLookup<ReadOnlySpan<char>>();
            }

            if (!_lookup.TryGetValue(level, out var child))
            {
                child = new TrieNode();
                _lookup[level] = child;
            }

            return child;
        }

        public TrieNode? GetChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                return Plus;
            }

            if (level is "#")
            {
                return Hash;
            }

            return Children is not null && _lookup.TryGetValue(level, out var child) ? child : null;
        }

        public void RemoveChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                Plus = null;
            }
            else if (level is "#")
            {
                Hash = null;
            }
            else if (Children is not null)
            {
                _lookup.Remove(level);
            }
        }
    }

    /// <summary>Walks the '/'-separated levels of a topic or filter without allocating.</summary>
    private ref struct LevelEnumerator
    {
        private ReadOnlySpan<char> _rest;
        private bool _done;

        public LevelEnumerator(string value)
        {
            _rest = value.AsSpan();
            _done = false;
            Current = default;
        }

        public ReadOnlySpan<char> Current { get; private set; }

        public readonly LevelEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_done)
            {
                return false;
            }

            var slash = _rest.IndexOf('/');
            if (slash < 0)
            {
                Current = _rest;
                _done = true;
                return true;
            }

            Current = _rest[..slash];
            _rest = _rest[(slash + 1)..];
            return true;
        }
    }
}
