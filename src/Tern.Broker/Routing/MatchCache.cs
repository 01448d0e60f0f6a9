using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Match results by topic name: a fixed array of 4-way sets (<see cref="Capacity"/> entries), read
/// and filled without a lock. A full set replaces an entry not hit since the set was last filled
/// (a clock per set), so a bound never costs more than one entry. A change of filter F removes
/// only the entries F matches: one set for a filter without wildcards, a pass over the array for
/// one with wildcards (its cost is bounded by <see cref="Capacity"/>, like nats-server's sublist).
/// </summary>
/// <remarks>
/// A result computed while a filter changed must not outlive the change. An entry goes in not yet
/// valid; its maker then rereads <see cref="_version"/>, which every change bumps before its pass:
/// unchanged, the entry becomes valid, and a later change's pass will see it; changed, the maker
/// takes it out again. Both sides use a full fence between their write and their read (Dekker),
/// so one of them always sees the other.
/// </remarks>
internal sealed class MatchCache
{
    public const int Capacity = 8192;
    private const int Ways = 4;
    private const int SetMask = (Capacity / Ways) - 1;

    private readonly Entry?[] _slots = new Entry?[Capacity];
    private long _version;
    private uint _hand;

    /// <summary>Read before computing a result to <see cref="Add"/>.</summary>
    public long Version => Volatile.Read(ref _version);

    public static int Hash(string topic) => TopicSignature.Hash(topic);

    public MatchResult? Find(string topic, int hash)
    {
        var first = (hash & SetMask) * Ways;
        for (var i = first; i < first + Ways; i++)
        {
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
        var entry = new Entry(topic, hash, TopicSignature.Of(topic), result);
        var slot = Victim(topic, hash);
        Interlocked.Exchange(ref _slots[slot], entry);
        if (Volatile.Read(ref _version) == version)
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
        Interlocked.Increment(ref _version);
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
        for (var i = 0; i < _slots.Length; i++)
        {
            var entry = Volatile.Read(ref _slots[i]);
            if (entry is not null && signature.MayMatch(entry.Signature) && MqttTopic.Matches(filter, entry.Topic))
            {
                Interlocked.CompareExchange(ref _slots[i], null, entry);
            }
        }
    }

    /// <summary>Which slot of the topic's set to fill: its own or an empty one, else the clock's pick.</summary>
    private int Victim(string topic, int hash)
    {
        var first = (hash & SetMask) * Ways;
        for (var i = first; i < first + Ways; i++)
        {
            var entry = Volatile.Read(ref _slots[i]);
            if (entry is null || (entry.Hash == hash && string.Equals(entry.Topic, topic, StringComparison.Ordinal)))
            {
                return i;
            }
        }

        // The hand is shared by all sets and races between threads; it only spreads the picks.
        var start = (int)(_hand++ % Ways);
        for (var n = 0; n < Ways; n++)
        {
            var i = first + ((start + n) % Ways);
            var entry = Volatile.Read(ref _slots[i]);
            if (entry is null || !entry.Referenced)
            {
                return i;
            }

            entry.Referenced = false;
        }

        return first + start;
    }

    private sealed class Entry(string topic, int hash, ulong signature, MatchResult result)
    {
        public readonly string Topic = topic;
        public readonly int Hash = hash;
        public readonly ulong Signature = signature;
        public readonly MatchResult Result = result;
        public volatile bool Valid;
        public volatile bool Referenced;
    }
}
