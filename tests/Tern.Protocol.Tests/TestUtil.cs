using System.Buffers;

namespace Tern.Protocol.Tests;

/// <summary>Hex fixtures, multi-segment sequences and one-call encode/decode helpers.</summary>
internal static class TestUtil
{
    /// <summary>Parses "30 07 00 03" (spaces and newlines ignored).</summary>
    public static byte[] Hex(string hex) =>
        Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>Frames and decodes exactly one packet that must fill <paramref name="bytes"/>.</summary>
    public static MqttPacket Decode(byte[] bytes, MqttProtocolVersion version) =>
        Decode(new ReadOnlySequence<byte>(bytes), version);

    public static MqttPacket Decode(ReadOnlySequence<byte> sequence, MqttProtocolVersion version)
    {
        long total = sequence.Length;
        Assert.True(MqttDecoder.TryReadFrame(ref sequence, int.MaxValue, out MqttFrame frame));
        Assert.Equal(total, frame.Length);
        Assert.True(sequence.IsEmpty);
        return MqttDecoder.Decode(frame, version);
    }

    public static MqttProtocolException DecodeThrows(string hex, MqttProtocolVersion version) =>
        Assert.Throws<MqttProtocolException>(() => Decode(Hex(hex), version));

    /// <summary>Splits <paramref name="bytes"/> into segments of the given sizes (the last takes the rest).</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, Func<int> nextSize)
    {
        Segment? first = null;
        Segment? last = null;
        int offset = 0;
        while (offset < bytes.Length)
        {
            int size = Math.Clamp(nextSize(), 1, bytes.Length - offset);
            var memory = new ReadOnlyMemory<byte>(bytes, offset, size);
            if (last is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last.Append(memory);
            }

            offset += size;
        }

        return first is null
            ? ReadOnlySequence<byte>.Empty
            : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
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
