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
        var buffer = Segments.Build(input[1..], FuzzInput.SegmentSize(selector));
        var decoded = new List<MqttPacket>();
        try
        {
            // Bounded: every successful TryRead consumes at least the 2-byte fixed header.
            while (MqttDecoder.TryRead(ref buffer, version, maxPacketSize, out var packet))
            {
                if (packet is null)
                {
                    throw new FuzzCrashException("TryRead returned true with a null packet");
                }

                decoded.Add(packet);
            }
        }
        catch (MqttProtocolException)
        {
            // The expected way to refuse bad input.
        }

        foreach (var packet in decoded)
        {
            CheckRoundTrip(packet, version);
        }
    }

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
