using System.Buffers;

namespace Tern.Fuzz;

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> of fixed-size segments, as a socket delivers them.</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> Build(ReadOnlySpan<byte> bytes, int segmentSize)
    {
        if (segmentSize <= 0 || bytes.Length <= segmentSize)
        {
            return new ReadOnlySequence<byte>(bytes.ToArray());
        }

        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentSize)
        {
            var chunk = bytes.Slice(offset, Math.Min(segmentSize, bytes.Length - offset)).ToArray();
            if (last is null)
            {
                first = last = new Segment(chunk, 0);
            }
            else
            {
                last = last.Append(chunk);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
