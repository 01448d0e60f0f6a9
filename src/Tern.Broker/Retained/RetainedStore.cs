using System.Collections.Concurrent;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Retained messages, in a topic trie so a wildcard SUBSCRIBE visits only the branches its filter
/// can match; an exact filter, and replacing a topic's message, are one lookup in a dictionary of
/// the trie's nodes by topic. Reads take no lock. A new topic or a deletion changes the trie under
/// one lock; replacing the message of a topic that has one is a compare-and-swap.
/// </summary>
internal sealed class RetainedStore
{
    private readonly Lock _writer = new();
    private readonly Node _root = new();
    // Exactly the nodes whose message is not null (changed under _writer).
    private readonly ConcurrentDictionary<string, Node> _byTopic = new(StringComparer.Ordinal);
    private readonly int _limit;
    private int _count;

    public RetainedStore(int limit) => _limit = limit;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Told of every change, by topic and node (a stored broker's writer); set before the broker starts.</summary>
    public StoreWriter? Store { get; set; }

    /// <summary>Stores, replaces or (empty payload) deletes the retained message of its topic [MQTT-3.3.1-10].</summary>
    /// <returns>false when the store is full and the topic was new.</returns>
    public bool Set(ApplicationMessage message)
    {
        if (message.Payload.IsEmpty)
        {
            Delete(message.Topic);
            return true;
        }

        // A message only turns null under the lock, and a node whose message is null is changed only
        // under the lock: so a swap from a non-null message cannot land in a node being removed.
        if (_byTopic.TryGetValue(message.Topic, out var node)
            && Volatile.Read(ref node.Message) is { } current
            && ReferenceEquals(Interlocked.CompareExchange(ref node.Message, message, current), current))
        {
            Notify(message.Topic, node);
            return true;
        }

        lock (_writer)
        {
            if (!_byTopic.TryGetValue(message.Topic, out node))
            {
                if (_count >= _limit)
                {
                    return false;
                }

                node = _root;
                foreach (var level in new TopicLevels(message.Topic))
                {
                    node = node.GetOrAddChild(level);
                }

                _byTopic[message.Topic] = node;
                Volatile.Write(ref _count, _count + 1);
            }

            Volatile.Write(ref node.Message, message);
            Notify(message.Topic, node);
            return true;
        }
    }

    /// <summary>The broker's own <c>$SYS</c> reports are rebuilt at start, never stored.</summary>
    private void Notify(string topic, Node node)
    {
        if (Store is { } store && !topic.StartsWith("$SYS/", StringComparison.Ordinal))
        {
            store.RetainedChanged(topic, node);
        }
    }

    /// <summary>The node that holds <paramref name="topic"/>'s message now, if any (the store writer's view).</summary>
    internal Node? Find(string topic) => _byTopic.GetValueOrDefault(topic);

    /// <summary>Retained messages whose topic matches <paramref name="filter"/>.</summary>
    public List<ApplicationMessage> Match(string filter)
    {
        var result = new List<ApplicationMessage>();
        if (!MqttTopic.HasWildcards(filter))
        {
            if (_byTopic.TryGetValue(filter, out var node) && Volatile.Read(ref node.Message) is { } exact)
            {
                result.Add(exact);
            }

            return result;
        }

        Collect(_root, filter.AsSpan(), root: true, result);
        return result;
    }

    private void Delete(string topic)
    {
        if (!_byTopic.ContainsKey(topic))
        {
            return;
        }

        lock (_writer)
        {
            if (!_byTopic.TryRemove(topic, out var node))
            {
                return;
            }

            Volatile.Write(ref node.Message, null);
            Volatile.Write(ref _count, _count - 1);
            Notify(topic, node);
            Prune(_root, new TopicLevels(topic));
        }
    }

    /// <summary>Removes the nodes of a deleted topic that hold nothing any more; true when <paramref name="node"/> is empty.</summary>
    private static bool Prune(Node node, TopicLevels levels)
    {
        if (levels.MoveNext() && node.Children is { } children && children.TryGet(levels.Current, out var child) && Prune(child, levels))
        {
            children.Remove(levels.Current);
        }

        return node.Message is null && (node.Children is null || node.Children.IsEmpty);
    }

    private static void Collect(Node node, ReadOnlySpan<char> filter, bool root, List<ApplicationMessage> result)
    {
        var slash = filter.IndexOf('/');
        var level = slash < 0 ? filter : filter[..slash];
        var rest = slash < 0 ? default : filter[(slash + 1)..];
        if (level is "#")
        {
            // "a/#" matches "a" too; the root has no message.
            AddMessage(node, result);
            AddSubtree(node, root, result);
            return;
        }

        if (node.Children is not { } children)
        {
            return;
        }

        if (level is "+")
        {
            foreach (var (name, child) in children)
            {
                // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
                if (!(root && name.StartsWith('$')))
                {
                    Step(child, slash < 0, rest, result);
                }
            }
        }
        else if (children.TryGet(level, out var child))
        {
            Step(child, slash < 0, rest, result);
        }
    }

    private static void Step(Node child, bool last, ReadOnlySpan<char> rest, List<ApplicationMessage> result)
    {
        if (last)
        {
            AddMessage(child, result);
        }
        else
        {
            Collect(child, rest, root: false, result);
        }
    }

    /// <summary>Every message below <paramref name="top"/> (iterative: a topic may have many levels).</summary>
    private static void AddSubtree(Node top, bool root, List<ApplicationMessage> result)
    {
        var pending = new Stack<Node>();
        pending.Push(top);
        while (pending.TryPop(out var node))
        {
            if (node.Children is not { } children)
            {
                continue;
            }

            foreach (var (name, child) in children)
            {
                if (ReferenceEquals(node, top) && root && name.StartsWith('$'))
                {
                    continue;
                }

                AddMessage(child, result);
                pending.Push(child);
            }
        }
    }

    private static void AddMessage(Node node, List<ApplicationMessage> result)
    {
        if (Volatile.Read(ref node.Message) is { } message)
        {
            result.Add(message);
        }
    }

    /// <summary>One level; <see cref="Message"/> is the retained message of the topic ending here.</summary>
    internal sealed class Node
    {
        public ApplicationMessage? Message;

        /// <summary>The message the store holds for this node's topic; the store writer's alone.</summary>
        public ApplicationMessage? Persisted;
        private LevelMap<Node>? _children;

        public LevelMap<Node>? Children => Volatile.Read(ref _children);

        /// <summary>Writer lock held.</summary>
        public Node GetOrAddChild(ReadOnlySpan<char> level)
        {
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
    }
}
