namespace Tern.Cli.Bench;

/// <summary>
/// Per-stream sequence checking for one subscriber: a stream is one publisher on one topic. The first
/// message of a stream sets the baseline; a jump forward counts the skipped numbers as gaps, a number at
/// or below the last one counts as a duplicate (or reordering). With <c>delivered</c> it also keeps
/// every sequence number received per stream, to tell which acknowledged messages never arrived.
/// </summary>
internal sealed class StreamTracker
{
    private long[] _last = new long[16];
    private SequenceSet?[]? _delivered;

    public StreamTracker(bool delivered = false)
    {
        if (delivered)
        {
            _delivered = new SequenceSet?[16];
        }
    }

    public long Gaps { get; private set; }

    public long Duplicates { get; private set; }

    /// <summary>The sequence numbers received on <paramref name="stream"/> (null: none, or not kept).</summary>
    public SequenceSet? Delivered(uint stream) => _delivered is { } d && stream < d.Length ? d[stream] : null;

    public void Record(uint stream, uint sequence)
    {
        if (stream >= _last.Length)
        {
            Grow(stream);
        }

        if (_delivered is { } delivered)
        {
            (delivered[stream] ??= new SequenceSet()).Add(sequence);
        }

        // Stored as sequence + 1 so that 0 means "nothing seen yet".
        long last = _last[stream];
        long current = (long)sequence + 1;
        if (last == 0 || current == last + 1)
        {
            _last[stream] = current;
        }
        else if (current > last)
        {
            Gaps += current - last - 1;
            _last[stream] = current;
        }
        else
        {
            Duplicates++;
        }
    }

    private void Grow(uint stream)
    {
        if (stream > 16_000_000)
        {
            throw new BenchException($"Stream id {stream} in a payload is out of range: not a 'tern bench' message?");
        }

        int length = (int)Math.Max(stream + 1, _last.Length * 2);
        Array.Resize(ref _last, length);
        if (_delivered is not null)
        {
            Array.Resize(ref _delivered, length);
        }
    }
}
