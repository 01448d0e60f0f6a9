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
/// while one writer at a time changes the map; the owning trie serializes its writers.
/// </summary>
internal sealed class LevelMap<TNode>
    where TNode : class
{
    // One lock stripe: the trie's writer lock already serializes writers, so more would only cost memory.
    private readonly ConcurrentDictionary<string, TNode> _map = new(1, 2, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TNode>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public LevelMap() => _lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();

    public bool IsEmpty => _map.IsEmpty;

    public bool TryGet(ReadOnlySpan<char> level, [MaybeNullWhen(false)] out TNode node) => _lookup.TryGetValue(level, out node);

    public void Add(ReadOnlySpan<char> level, TNode node) => _lookup.TryAdd(level, node);

    public void Remove(ReadOnlySpan<char> level) => _lookup.TryRemove(level, out _);

    /// <summary>A moving view: entries added or removed meanwhile may or may not be seen.</summary>
    public IEnumerator<KeyValuePair<string, TNode>> GetEnumerator() => _map.GetEnumerator();
}
