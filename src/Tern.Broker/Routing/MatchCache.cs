using System.Runtime.InteropServices;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Match results by topic name: a fixed array of 4-way sets (<see cref="Capacity"/> entries), read
/// without a lock. A full set replaces the entry its clock hand finds not hit since the hand last
/// passed, so a bound never costs more than one entry. A change of filter F removes
/// only the entries F matches: one set for a filter without wildcards, a pass over the array for
/// one with wildcards (bounded by <see cref="Capacity"/>, like nats-server's sublist). That pass
/// reads a parallel array of <see cref="TopicSignature"/>s, 64 KiB in order, and looks at an entry
/// only when its signature does not rule the filter out.
/// </summary>
/// <remarks>
/// A result computed while a filter changed must not outlive the change. An entry goes in not yet
/// valid; its maker then rereads the version, which every change bumps before its pass: unchanged,
/// the entry becomes valid, and the pass of any later change will see its signature; changed, the
/// maker takes it out again. The maker writes slot, then signature, then fences and reads the
/// version; a change bumps the version (a fence), then reads signature, then slot (Dekker: one of
/// the two sees the other). Makers fill a set one at a time (a try-lock per set; a maker that finds
/// it taken does not cache), so a slot's signature is never that of an entry no longer in it
/// unless a newer one is on its way, whose maker will see the bump.
/// </remarks>
internal sealed class MatchCache
{
    public const int Capacity = 8192;
    private const int Ways = 4;
    private const int SetMask = (Capacity / Ways) - 1;

    private readonly Entry?[] _slots = new Entry?[Capacity];
    private readonly ulong[] _signatures = new ulong[Capacity];
    // Each slot's topic hash, so a lookup reads only the entry it wants (a stale one costs a miss, never a wrong hit).
    private readonly int[] _hashes = new int[Capacity];
    private readonly int[] _filling = new int[Capacity / Ways];
    // Each set's clock hand (changed while filling the set): the next way to look at for a victim.
    private readonly byte[] _hands = new byte[Capacity / Ways];
    private PaddedCounter _version;

    /// <summary>Read before computing a result to <see cref="Add"/>.</summary>
    public long Version => Volatile.Read(ref _version.Value);

    public static int Hash(string topic) => TopicSignature.Hash(topic);

    public MatchResult? Find(string topic, int hash)
    {
        var first = (hash & SetMask) * Ways;
        for (var i = first; i < first + Ways; i++)
        {
            if (Volatile.Read(ref _hashes[i]) != hash)
            {
                continue;
            }

            var entry = Volatile.Read(ref _slots[i]);
            if (entry is not null && entry.Hash == hash && entry.Valid && string.Equals(entry.Topic, topic, StringComparison.Ordinal))
            {
                // Written once per clock round, not per hit: hot entries stay shared in every core's cache.
                if (!entry.Referenced)
                {
                    entry.Referenced = true;
                }

                return entry.Result;
            }
        }

        return null;
    }

    /// <summary>Caches <paramref name="result"/>, computed after reading <paramref name="version"/>.</summary>
    public void Add(string topic, int hash, MatchResult result, long version)
    {
        var set = hash & SetMask;
        if (Interlocked.CompareExchange(ref _filling[set], 1, 0) != 0)
        {
            return;
        }

        var entry = new Entry(topic, hash, result);
        var slot = Victim(set, topic, hash);
        Interlocked.Exchange(ref _slots[slot], entry);
        Volatile.Write(ref _signatures[slot], TopicSignature.Of(topic));
        Volatile.Write(ref _hashes[slot], hash);
        Volatile.Write(ref _filling[set], 0);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _version.Value) == version)
        {
            entry.Valid = true;
        }
        else
        {
            Interlocked.CompareExchange(ref _slots[slot], null, entry);
        }
    }

    /// <summary>Forgets every result <paramref name="filter"/> matches; call after changing its subscriptions.</summary>
    public void Invalidate(string filter)
    {
        Interlocked.Increment(ref _version.Value);
        if (!MqttTopic.HasWildcards(filter))
        {
            var hash = Hash(filter);
            var first = (hash & SetMask) * Ways;
            for (var i = first; i < first + Ways; i++)
            {
                var entry = Volatile.Read(ref _slots[i]);
                if (entry is not null && entry.Hash == hash && string.Equals(entry.Topic, filter, StringComparison.Ordinal))
                {
                    Interlocked.CompareExchange(ref _slots[i], null, entry);
                }
            }

            return;
        }

        var signature = new TopicSignature.Filter(filter);
        for (var i = 0; i < _signatures.Length; i++)
        {
            if (!signature.MayMatch(Volatile.Read(ref _signatures[i])))
            {
                continue;
            }

            var entry = Volatile.Read(ref _slots[i]);
            if (entry is not null && MqttTopic.Matches(filter, entry.Topic))
            {
                Interlocked.CompareExchange(ref _slots[i], null, entry);
            }
        }
    }

    /// <summary>Which slot of the set to fill: the topic's own or an empty one, else the clock's pick.</summary>
    private int Victim(int set, string topic, int hash)
    {
        var first = set * Ways;
        for (var i = first; i < first + Ways; i++)
        {
            var entry = Volatile.Read(ref _slots[i]);
            if (entry is null || (entry.Hash == hash && string.Equals(entry.Topic, topic, StringComparison.Ordinal)))
            {
                return i;
            }
        }

        // The hand passes the entry it fills, so a new entry is looked at last (after a hit or not).
        var hand = _hands[set];
        for (var n = 0; ; n++)
        {
            var way = (hand + n) % Ways;
            var entry = Volatile.Read(ref _slots[first + way]);
            if (entry is null || !entry.Referenced || n == Ways)
            {
                _hands[set] = (byte)((way + 1) % Ways);
                return first + way;
            }

            entry.Referenced = false;
        }
    }

    private sealed class Entry(string topic, int hash, MatchResult result)
    {
        public readonly string Topic = topic;
        public readonly int Hash = hash;
        public readonly MatchResult Result = result;
        public volatile bool Valid;
        public volatile bool Referenced;
    }
}

/// <summary>
/// A counter that writers bump, on a cache line of its own: next to a field that every publish
/// reads (the cache's slots, the index's root), each bump would evict that line from every core.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedCounter
{
    [FieldOffset(64)]
    public long Value;
}
