using System.Buffers;
using Tern.Protocol;

namespace Tern.Fuzz;

/// <summary>
/// Target 1: <see cref="MqttDecoder.TryRead"/> over the input until it returns false. Only
/// <see cref="MqttProtocolException"/> may escape the decoder. Every decoded packet must survive the
/// encoder round trip: encode(decode(encode(p))) == encode(p), byte for byte.
/// </summary>
public static class DecoderTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var selector = input[0];
        var version = FuzzInput.Version(selector);
        var maxPacketSize = FuzzInput.MaxPacketSize(selector);
        var segmentSize = FuzzInput.SegmentSize(selector);
        var result = DecodeAll(input[1..], segmentSize, version, maxPacketSize);
        foreach (var packet in result.Packets)
        {
            CheckRoundTrip(packet, version);
        }

        if (segmentSize > 0)
        {
            // Differential: bytes split across segments decode exactly as in one segment.
            var whole = DecodeAll(input[1..], 0, version, maxPacketSize);
            var split = Describe(result, version);
            var single = Describe(whole, version);
            if (split != single)
            {
                throw new FuzzCrashException($"decoding in {segmentSize}-byte segments differs from one segment:\n  segments: {split}\n  single:   {single}");
            }
        }
    }

    private sealed record Decoded(List<MqttPacket> Packets, MqttProtocolException? Error, long Remaining);

    private static Decoded DecodeAll(ReadOnlySpan<byte> bytes, int segmentSize, MqttProtocolVersion version, int maxPacketSize)
    {
        var buffer = Segments.Build(bytes, segmentSize);
        var packets = new List<MqttPacket>();
        try
        {
            // Bounded: every successful TryRead consumes at least the 2-byte fixed header.
            while (true)
            {
                var before = buffer;
                if (!MqttDecoder.TryRead(ref buffer, version, maxPacketSize, out var packet))
                {
                    if (!buffer.Start.Equals(before.Start) || buffer.Length != before.Length)
                    {
                        throw new FuzzCrashException("TryRead returned false but moved the buffer");
                    }

                    break;
                }

                packets.Add(packet ?? throw new FuzzCrashException("TryRead returned true with a null packet"));
            }
        }
        catch (MqttProtocolException ex)
        {
            // The expected way to refuse bad input.
            return new Decoded(packets, ex, buffer.Length);
        }

        return new Decoded(packets, null, buffer.Length);
    }

    private static string Describe(Decoded decoded, MqttProtocolVersion version) =>
        string.Join(" ", decoded.Packets.Select(p => Hex(MqttEncoder.ToArray(p, version))))
        + (decoded.Error is { } e ? $" then {e.ReasonCode}: {e.Message}" : $" then need more ({decoded.Remaining} bytes left)");

    /// <summary>encode(p) must decode (as one whole packet) to a packet that encodes to the same bytes.</summary>
    public static void CheckRoundTrip(MqttPacket packet, MqttProtocolVersion version)
    {
        var first = Encode(packet, version, "decoded");
        MqttPacket again;
        var sequence = new ReadOnlySequence<byte>(first);
        try
        {
            if (!MqttDecoder.TryRead(ref sequence, version, int.MaxValue, out var p) || p is null)
            {
                throw new FuzzCrashException($"re-encoded {packet.Type} ({Hex(first)}) is incomplete");
            }

            again = p;
        }
        catch (MqttProtocolException ex)
        {
            throw new FuzzCrashException($"re-encoded {packet.Type} ({Hex(first)}) does not decode: {ex.Message}", ex);
        }

        if (!sequence.IsEmpty)
        {
            throw new FuzzCrashException($"re-encoded {packet.Type} ({Hex(first)}) left {sequence.Length} bytes after the packet");
        }

        var second = Encode(again, version, "re-decoded");
        if (!first.AsSpan().SequenceEqual(second))
        {
            throw new FuzzCrashException(
                $"{packet.Type} round trip differs (version {version}):\n  encode(decode(x))                 = {Hex(first)}\n  encode(decode(encode(decode(x)))) = {Hex(second)}");
        }
    }

    private static byte[] Encode(MqttPacket packet, MqttProtocolVersion version, string what)
    {
        try
        {
            var bytes = MqttEncoder.ToArray(packet, version);
            var size = MqttEncoder.GetSize(packet, version);
            if (bytes.Length != size)
            {
                throw new FuzzCrashException($"GetSize of the {what} {packet.Type} is {size}, Write wrote {bytes.Length} bytes");
            }

            return bytes;
        }
        catch (Exception ex) when (ex is not FuzzCrashException)
        {
            throw new FuzzCrashException($"encoding the {what} {packet.Type} (version {version}) threw {ex.GetType().Name}: {ex.Message}", ex);
        }
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
