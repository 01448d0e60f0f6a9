namespace Tern.Broker;

internal sealed partial class SubscriptionIndex
{
    /// <summary>
    /// One level of the trie. Structure (children, '+', '#') changes only under the index's writer
    /// lock and is read without one. The subscribers live in dictionaries guarded by the node's own
    /// monitor; readers see them through <see cref="Result"/>, an immutable snapshot rebuilt on the
    /// first read after a change (so a thousand SUBSCRIBEs to one filter cost no thousand copies).
    /// </summary>
    private sealed class Node
    {
        private LevelMap<Node>? _children;
        private Node? _plus;
        private Node? _hash;
        private Dictionary<MqttSession, Subscription>? _subscriptions;
        private Dictionary<string, SharedGroup>? _groups;
        private MatchResult? _result = MatchResult.Empty;

        public LevelMap<Node>? Children => Volatile.Read(ref _children);

        public Node? Plus => Volatile.Read(ref _plus);

        public Node? Hash => Volatile.Read(ref _hash);

        /// <summary>This node's own subscribers and groups (not those of its children).</summary>
        public MatchResult Result => Volatile.Read(ref _result) ?? Rebuild();

        /// <summary>Writer lock held (the dictionaries change only under it; readers only enumerate them).</summary>
        public bool IsEmpty => (_children is null || _children.IsEmpty) && _plus is null && _hash is null
            && (_subscriptions is null || _subscriptions.Count == 0) && (_groups is null || _groups.Count == 0);

        /// <summary>Writer lock held.</summary>
        public Node GetOrAddChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                return _plus ?? Publish(ref _plus);
            }

            if (level is "#")
            {
                return _hash ?? Publish(ref _hash);
            }

            var children = _children;
            if (children is null)
            {
                children = new LevelMap<Node>();
                Volatile.Write(ref _children, children);
            }

            if (!children.TryGet(level, out var child))
            {
                child = new Node();
                children.Add(level, child);
            }

            return child;
        }

        public Node? GetChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                return Plus;
            }

            if (level is "#")
            {
                return Hash;
            }

            return Children is { } children && children.TryGet(level, out var child) ? child : null;
        }

        /// <summary>Writer lock held.</summary>
        public void RemoveChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                Volatile.Write(ref _plus, null);
            }
            else if (level is "#")
            {
                Volatile.Write(ref _hash, null);
            }
            else
            {
                _children?.Remove(level);
            }
        }

        /// <summary>Writer lock held. Adds or replaces the session's subscription here.</summary>
        /// <param name="subscription">The subscription.</param>
        /// <param name="added">Whether the session was not subscribed here before.</param>
        /// <returns>Whether <see cref="Result"/> changes (joining an existing shared group does not).</returns>
        public bool Add(Subscription subscription, out bool added)
        {
            lock (this)
            {
                if (subscription.ShareName is { } shareName)
                {
                    return AddShared(shareName, subscription, out added);
                }

                _subscriptions ??= [];
                added = _subscriptions.TryAdd(subscription.Session, subscription);
                if (!added)
                {
                    _subscriptions[subscription.Session] = subscription;
                }

                Volatile.Write(ref _result, null);
                return true;
            }
        }

        /// <summary>Writer lock held. Removes the session's subscription here.</summary>
        /// <param name="session">The subscriber.</param>
        /// <param name="shareName">Group of a shared subscription, else null.</param>
        /// <param name="changed">Whether <see cref="Result"/> changed.</param>
        /// <returns>false when the session had no such subscription.</returns>
        public bool Remove(MqttSession session, string? shareName, out bool changed)
        {
            lock (this)
            {
                changed = false;
                if (shareName is not null)
                {
                    return RemoveShared(shareName, session, out changed);
                }

                if (_subscriptions is null || !_subscriptions.Remove(session))
                {
                    return false;
                }

                changed = true;
                Volatile.Write(ref _result, null);
                return true;
            }
        }

        private static Node Publish(ref Node? field)
        {
            var node = new Node();
            Volatile.Write(ref field, node);
            return node;
        }

        private MatchResult Rebuild()
        {
            lock (this)
            {
                return _result ??= Snapshot();
            }
        }

        private MatchResult Snapshot()
        {
            var targets = new RouteTarget[_subscriptions?.Count ?? 0];
            var i = 0;
            if (_subscriptions is not null)
            {
                foreach (var s in _subscriptions.Values)
                {
                    targets[i++] = new RouteTarget(s.Session, s.Options.QoS, s.Options.NoLocal, s.Options.RetainAsPublished, s.SubscriptionIdentifier is { } id ? [id] : null);
                }
            }

            var groups = new SharedGroup[_groups?.Count ?? 0];
            _groups?.Values.CopyTo(groups, 0);
            return targets.Length == 0 && groups.Length == 0 ? MatchResult.Empty : new MatchResult(targets, groups);
        }

        private bool AddShared(string shareName, Subscription subscription, out bool added)
        {
            _groups ??= new Dictionary<string, SharedGroup>(StringComparer.Ordinal);
            var changed = false;
            if (!_groups.TryGetValue(shareName, out var group))
            {
                group = new SharedGroup(shareName, subscription.TopicFilter);
                _groups[shareName] = group;
                Volatile.Write(ref _result, null);
                changed = true;
            }

            // Members is replaced, never mutated: a publisher picking from it needs no lock.
            var members = group.Members;
            for (var i = 0; i < members.Length; i++)
            {
                if (ReferenceEquals(members[i].Session, subscription.Session))
                {
                    var replaced = (Subscription[])members.Clone();
                    replaced[i] = subscription;
                    group.Set(replaced);
                    added = false;
                    return changed;
                }
            }

            group.Set([.. members, subscription]);
            added = true;
            return changed;
        }

        private bool RemoveShared(string shareName, MqttSession session, out bool changed)
        {
            changed = false;
            if (_groups is null || !_groups.TryGetValue(shareName, out var group))
            {
                return false;
            }

            var members = group.Members;
            var index = -1;
            for (var i = 0; i < members.Length; i++)
            {
                if (ReferenceEquals(members[i].Session, session))
                {
                    index = i;
                    break;
                }
            }

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
                _groups.Remove(shareName);
                Volatile.Write(ref _result, null);
                changed = true;
            }

            return true;
        }
    }
}
