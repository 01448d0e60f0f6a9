using System.Buffers;

namespace Tern.Protocol;

/// <summary>
/// One framed control packet: the fixed header's first byte and the body (variable header and
/// payload). The body is a slice of the caller's buffer and is valid only as long as that buffer is.
/// </summary>
public readonly struct MqttFrame
{
    public MqttFrame(byte header, ReadOnlySequence<byte> body, int length)
    {
        Header = header;
        Body = body;
        Length = length;
    }

    /// <summary>First byte of the fixed header.</summary>
    public byte Header { get; }

    /// <summary>Control packet type (high nibble of <see cref="Header"/>).</summary>
    public MqttPacketType Type => (MqttPacketType)(Header >> 4);

    /// <summary>Fixed-header flags (low nibble of <see cref="Header"/>).</summary>
    public byte Flags => (byte)(Header & 0x0F);

    /// <summary>Variable header and payload: the remaining-length bytes.</summary>
    public ReadOnlySequence<byte> Body { get; }

    /// <summary>Total size of the packet on the wire, fixed header included.</summary>
    public int Length { get; }
}
