using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Tern.Broker;

/// <summary>
/// A topic in 64 bits: its level count (to 255) and a 12-bit hash of each of its first four
/// levels, with '$' topics marked. Enough for a filter to rule most topics out without reading them.
/// </summary>
internal static class TopicSignature
{
    private const int LevelBits = 12;
    private const int HashedLevels = 4;
    private const int CountShift = LevelBits * HashedLevels;
    private const ulong LevelMask = (1UL << LevelBits) - 1;
    private const ulong DollarBit = 1UL << 63;
    private const int CountUnknown = 255;

    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64();

    public static ulong Of(string topic)
    {
        ulong signature = 0;
        var count = 0;
        foreach (var level in new TopicLevels(topic))
        {
            if (count < HashedLevels)
            {
                signature |= LevelHash(level) << (LevelBits * count);
            }

            count++;
        }

        signature |= (ulong)Math.Min(count, CountUnknown) << CountShift;
        return topic.Length > 0 && topic[0] == '$' ? signature | DollarBit : signature;
    }

    /// <summary>A hash of the whole topic (seeded per process, so nobody can aim at one cache set).</summary>
    public static int Hash(string topic)
    {
        var bytes = MemoryMarshal.AsBytes(topic.AsSpan());
        var h = Seed ^ ((ulong)bytes.Length * 0x9E3779B97F4A7C15UL);
        while (bytes.Length >= 8)
        {
            h = BitOperations.RotateLeft(h ^ (BinaryPrimitives.ReadUInt64LittleEndian(bytes) * 0xC2B2AE3D27D4EB4FUL), 31) * 0x9E3779B97F4A7C15UL;
            bytes = bytes[8..];
        }

        ulong tail = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            tail |= (ulong)bytes[i] << (8 * i);
        }

        h = (h ^ tail) * 0xC2B2AE3D27D4EB4FUL;
        h ^= h >> 29;
        h *= 0x165667B19E3779F9UL;
        return (int)(h ^ (h >> 32));
    }

    private static ulong LevelHash(ReadOnlySpan<char> level)
    {
        var h = 2166136261u;
        foreach (var c in level)
        {
            h = (h ^ c) * 16777619u;
        }

        return (h ^ (h >> 12) ^ (h >> 24)) & LevelMask;
    }

    /// <summary>What of a filter a signature can check: its literal levels among the first four, and its length.</summary>
    internal readonly struct Filter
    {
        private readonly ulong _mask;
        private readonly ulong _value;
        private readonly int _levels;
        private readonly bool _multiLevel;

        public Filter(string filter)
        {
            var index = 0;
            foreach (var level in new TopicLevels(filter))
            {
                if (level is "#")
                {
                    _multiLevel = true;
                }
                else if (level is not "+" && index < HashedLevels)
                {
                    _mask |= LevelMask << (LevelBits * index);
                    _value |= LevelHash(level) << (LevelBits * index);
                }

                index++;
            }

            _levels = index;
            if (filter.Length > 0 && filter[0] is '+' or '#')
            {
                // [MQTT-4.7.2-1] a leading wildcard does not match '$' topics.
                _mask |= DollarBit;
            }
        }

        /// <summary>false: the filter cannot match a topic with this signature; true: it may.</summary>
        public bool MayMatch(ulong signature)
        {
            if (((signature ^ _value) & _mask) != 0)
            {
                return false;
            }

            var count = (int)((signature >> CountShift) & 0xFF);
            return count == CountUnknown || (_multiLevel ? count >= _levels - 1 : count == _levels);
        }
    }
}
