using System.Numerics;

namespace Tern.Cli.Bench;

/// <summary>
/// The sequence numbers seen on one stream, one bit each; it grows as they do. One thread writes it
/// (a publisher's acknowledgement loop, or a subscriber's receive loop); it is read after the run.
/// </summary>
internal sealed class SequenceSet
{
    private ulong[] _words = new ulong[16];

    public void Add(uint sequence)
    {
        int word = (int)(sequence >> 6);
        if (word >= _words.Length)
        {
            Array.Resize(ref _words, Math.Max(word + 1, _words.Length * 2));
        }

        _words[word] |= 1UL << (int)(sequence & 63);
    }

    public long Count
    {
        get
        {
            long n = 0;
            foreach (ulong w in _words)
            {
                n += BitOperations.PopCount(w);
            }

            return n;
        }
    }

    /// <summary>How many of this set's numbers <paramref name="other"/> lacks (all of them when it is null).</summary>
    public long CountMissingFrom(SequenceSet? other)
    {
        long n = 0;
        for (var i = 0; i < _words.Length; i++)
        {
            ulong theirs = other is not null && i < other._words.Length ? other._words[i] : 0;
            n += BitOperations.PopCount(_words[i] & ~theirs);
        }

        return n;
    }
}
