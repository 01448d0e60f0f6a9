using System.Buffers;

namespace Tern.Protocol;

/// <summary>
/// Frames and decodes MQTT control packets. Framing looks only at the fixed header, so an
/// oversized packet is refused before its body arrives; decoding validates what the spec
/// requires a receiver to check and throws <see cref="MqttProtocolException"/> otherwise.
/// </summary>
public static class MqttDecoder
{
    // A fixed header is at most 1 type byte + 4 remaining-length bytes.
    private const int MaxFixedHeaderSize = 1 + VariableByteInteger.MaxSize;

    /// <summary>
    /// Frames one packet from the front of <paramref name="buffer"/>. Returns false (buffer
    /// unchanged) when more bytes are needed; on success slices <paramref name="buffer"/> past it.
    /// </summary>
    /// <exception cref="MqttProtocolException">
    /// Packet type 0 or a remaining length over 4 bytes (malformed); a packet larger than
    /// <paramref name="maxPacketSize"/> (packet too large), detected from the fixed header alone.
    /// </exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxPacketSize, out MqttFrame frame)
    {
        frame = default;
        if (buffer.IsEmpty)
        {
            return false;
        }

        Span<byte> scratch = stackalloc byte[MaxFixedHeaderSize];
        scoped ReadOnlySpan<byte> head = buffer.FirstSpan;
        if (head.Length < MaxFixedHeaderSize && buffer.Length > head.Length)
        {
            // The fixed header straddles segments: join its first bytes.
            int n = (int)Math.Min(buffer.Length, MaxFixedHeaderSize);
            buffer.Slice(0, n).CopyTo(scratch);
            head = scratch[..n];
        }

        byte header = head[0];
        if (header >> 4 == 0)
        {
            ThrowHelper.ThrowMalformed("Packet type 0 is reserved.");
        }

        if (!VariableByteInteger.TryRead(head[1..], out int remaining, out int lengthSize))
        {
            return false;
        }

        long total = 1L + lengthSize + remaining;
        if (total > maxPacketSize)
        {
            ThrowHelper.ThrowPacketTooLarge(total, maxPacketSize);
        }

        if (buffer.Length < total)
        {
            return false;
        }

        frame = new MqttFrame(header, buffer.Slice(1 + lengthSize, remaining), (int)total);
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>
    /// Decodes a framed packet for a connection speaking <paramref name="version"/>. CONNECT ignores
    /// <paramref name="version"/> and uses the level in the packet. Payloads, passwords and binary
    /// properties are copied once into new arrays. An absent or empty 5.0 property list decodes as
    /// null, and a 5.0 acknowledgement without reason code decodes as <see cref="ReasonCode.Success"/>.
    /// Topic filters are not checked for syntax (the broker answers them per filter in SUBACK).
    /// </summary>
    /// <exception cref="MqttProtocolException">
    /// The packet breaks the protocol; <see cref="MqttProtocolException.ReasonCode"/> says how
    /// (MalformedPacket, ProtocolError, UnsupportedProtocolVersion for CONNECT, TopicNameInvalid in 5.0).
    /// </exception>
    public static MqttPacket Decode(in MqttFrame frame, MqttProtocolVersion version)
    {
        CheckVersion(version);
        CheckFlags(frame);
        var r = new MqttReader(frame.Body);
        MqttPacket packet = frame.Type switch
        {
            MqttPacketType.Connect => ConnectDecoder.Decode(ref r),
            MqttPacketType.ConnAck => ConnAckDecoder.Decode(ref r, version),
            MqttPacketType.Publish => PublishDecoder.Decode(ref r, frame.Flags, version),
            MqttPacketType.PubAck or MqttPacketType.PubRec or MqttPacketType.PubRel or MqttPacketType.PubComp
                => PubAckFamilyDecoder.Decode(ref r, frame.Type, version),
            MqttPacketType.Subscribe => SubscribeDecoder.Decode(ref r, version),
            MqttPacketType.SubAck => SubAckDecoder.Decode(ref r, version),
            MqttPacketType.Unsubscribe => UnsubscribeDecoder.Decode(ref r, version),
            MqttPacketType.UnsubAck => UnsubAckDecoder.Decode(ref r, version),
            // PINGREQ and PINGRESP have no content: EnsureEnd below rejects any byte.
            MqttPacketType.PingReq => PingReqPacket.Instance,
            MqttPacketType.PingResp => PingRespPacket.Instance,
            MqttPacketType.Disconnect => DisconnectDecoder.Decode(ref r, version),
            MqttPacketType.Auth => AuthDecoder.Decode(ref r, version),
            _ => throw MqttProtocolException.Malformed("Packet type 0 is reserved."),
        };
        r.EnsureEnd();
        return packet;
    }

    /// <summary>Convenience: <see cref="TryReadFrame"/> then <see cref="Decode"/>.</summary>
    public static bool TryRead(
        ref ReadOnlySequence<byte> buffer, MqttProtocolVersion version, int maxPacketSize, out MqttPacket? packet)
    {
        if (!TryReadFrame(ref buffer, maxPacketSize, out MqttFrame frame))
        {
            packet = null;
            return false;
        }

        packet = Decode(frame, version);
        return true;
    }

    /// <summary>
    /// Fixed-header flags are reserved: PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry 0b0010 and
    /// every other packet except PUBLISH 0 [MQTT-2.2.2-1] [MQTT-2.2.2-2].
    /// </summary>
    private static void CheckFlags(in MqttFrame frame)
    {
        byte expected = frame.Type switch
        {
            MqttPacketType.Publish => frame.Flags,
            MqttPacketType.PubRel or MqttPacketType.Subscribe or MqttPacketType.Unsubscribe => 0b0010,
            _ => 0,
        };
        if (frame.Flags != expected)
        {
            ThrowHelper.ThrowMalformed($"Reserved flags 0x{frame.Flags:X} of {frame.Type} are invalid [MQTT-2.2.2-2].");
        }
    }

    private static void CheckVersion(MqttProtocolVersion version)
    {
        if (version is not (MqttProtocolVersion.V310 or MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            ThrowHelper.ThrowUnsupportedVersion(version);
        }
    }
}
