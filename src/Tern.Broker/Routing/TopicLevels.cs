using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Tern.Broker;

/// <summary>Walks the '/'-separated levels of a topic or filter without allocating.</summary>
internal ref struct TopicLevels
{
    private ReadOnlySpan<char> _rest;
    private bool _done;

    public TopicLevels(string value)
    {
        _rest = value.AsSpan();
        _done = false;
        Current = default;
    }

    public ReadOnlySpan<char> Current { get; private set; }

    public readonly TopicLevels GetEnumerator() => this;

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

/// <summary>
/// Children of a trie node by level. Reads (by span, no string made) take no lock and may run
/// while one writer at a time changes the map; the owning trie serializes its writers. Up to
/// <see cref="SmallCount"/> children sit in an array replaced on every change (most nodes have
/// one or two, and a concurrent dictionary costs some 300 bytes); more go to a dictionary.
/// </summary>
internal sealed class LevelMap<TNode>
    where TNode : class
{
    private const int SmallCount = 8;

    private KeyValuePair<string, TNode>[] _small = [];
    private Large? _large;

    public bool IsEmpty => Volatile.Read(ref _large) is { } large ? large.Map.IsEmpty : Volatile.Read(ref _small).Length == 0;

    public bool TryGet(ReadOnlySpan<char> level, [MaybeNullWhen(false)] out TNode node)
    {
        if (Volatile.Read(ref _large) is { } large)
        {
            return large.Lookup.TryGetValue(level, out node);
        }

        foreach (var (name, child) in Volatile.Read(ref _small))
        {
            if (level.SequenceEqual(name))
            {
                node = child;
                return true;
            }
        }

        node = null;
        return false;
    }

    /// <summary>Writer lock held; <paramref name="level"/> is not in the map.</summary>
    public void Add(ReadOnlySpan<char> level, TNode node)
    {
        if (_large is { } large)
        {
            large.Lookup.TryAdd(level, node);
            return;
        }

        var small = _small;
        if (small.Length < SmallCount)
        {
            Volatile.Write(ref _small, [.. small, new(level.ToString(), node)]);
            return;
        }

        // One lock stripe: the trie's writer lock already serializes writers, so more would only cost memory.
        large = new Large(new ConcurrentDictionary<string, TNode>(1, SmallCount * 2, StringComparer.Ordinal));
        foreach (var (name, child) in small)
        {
            large.Map[name] = child;
        }

        large.Lookup.TryAdd(level, node);
        Volatile.Write(ref _large, large);
    }

    /// <summary>Writer lock held.</summary>
    public void Remove(ReadOnlySpan<char> level)
    {
        if (_large is { } large)
        {
            large.Lookup.TryRemove(level, out _);
            return;
        }

        var small = _small;
        for (var i = 0; i < small.Length; i++)
        {
            if (level.SequenceEqual(small[i].Key))
            {
                Volatile.Write(ref _small, [.. small.AsSpan(0, i), .. small.AsSpan(i + 1)]);
                return;
            }
        }
    }

    /// <summary>A moving view: entries added or removed meanwhile may or may not be seen.</summary>
    public IEnumerator<KeyValuePair<string, TNode>> GetEnumerator()
        => Volatile.Read(ref _large) is { } large ? large.Map.GetEnumerator() : ((IEnumerable<KeyValuePair<string, TNode>>)Volatile.Read(ref _small)).GetEnumerator();

    private sealed class Large(ConcurrentDictionary<string, TNode> map)
    {
        public readonly ConcurrentDictionary<string, TNode> Map = map;
        public readonly ConcurrentDictionary<string, TNode>.AlternateLookup<ReadOnlySpan<char>> Lookup = map.GetAlternateLookup<ReadOnlySpan<char>>();
    }
}
