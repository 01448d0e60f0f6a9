namespace Tern.Cli.Bench;

/// <summary>
/// Per-stream sequence checking for one subscriber: a stream is one publisher on one topic. The first
/// message of a stream sets the baseline; a jump forward counts the skipped numbers as gaps, a number at
/// or below the last one counts as a duplicate (or reordering).
/// </summary>
internal sealed class StreamTracker
{
    private long[] _last = new long[16];

    public long Gaps { get; private set; }

    public long Duplicates { get; private set; }

    public void Record(uint stream, uint sequence)
    {
        if (stream >= _last.Length)
        {
            Grow(stream);
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

        Array.Resize(ref _last, (int)Math.Max(stream + 1, _last.Length * 2));
    }
}
