using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Tern.Protocol;

/// <summary>
/// Reads MQTT data types from a packet body that may span several segments. Every read checks
/// that the body holds enough bytes; running out means the packet is malformed.
/// </summary>
internal ref struct MqttReader
{
    // Strings up to this size that straddle a segment boundary are joined on the stack.
    private const int StackLimit = 256;

    private SequenceReader<byte> _reader;

    public MqttReader(ReadOnlySequence<byte> body) => _reader = new SequenceReader<byte>(body);

    public readonly long Remaining => _reader.Remaining;

    public readonly long Consumed => _reader.Consumed;

    public readonly bool End => _reader.End;

    public byte ReadByte()
    {
        if (!_reader.TryRead(out byte value))
        {
            ThrowHelper.ThrowTruncated();
        }

        return value;
    }

    public ushort ReadUInt16()
    {
        if (!_reader.TryReadBigEndian(out short value))
        {
            ThrowHelper.ThrowTruncated();
        }

        return (ushort)value;
    }

    public uint ReadUInt32()
    {
        if (!_reader.TryReadBigEndian(out int value))
        {
            ThrowHelper.ThrowTruncated();
        }

        return (uint)value;
    }

    /// <summary>Reads a packet identifier, which must not be 0 [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]).</summary>
    public ushort ReadPacketId()
    {
        ushort id = ReadUInt16();
        if (id == 0)
        {
            ThrowHelper.ThrowProtocolError("Packet identifier 0 is not allowed [MQTT-2.3.1-1].");
        }

        return id;
    }

    public int ReadVariableByteInteger()
    {
        int value = 0;
        for (int i = 0; i < VariableByteInteger.MaxSize; i++)
        {
            byte b = ReadByte();
            value |= (b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        ThrowHelper.ThrowMalformed("Variable byte integer longer than 4 bytes.");
        return 0;
    }

    /// <summary>
    /// Reads a UTF-8 encoded string (spec 1.5.4). It must be well-formed UTF-8 (which excludes
    /// surrogates and overlong forms) [MQTT-1.5.4-1] and must not contain U+0000 [MQTT-1.5.4-2].
    /// </summary>
    public string ReadString()
    {
        int length = ReadUInt16();
        if (_reader.Remaining < length)
        {
            ThrowHelper.ThrowTruncated();
        }

        ReadOnlySpan<byte> unread = _reader.UnreadSpan;
        if (unread.Length >= length)
        {
            string s = DecodeUtf8(unread[..length]);
            _reader.Advance(length);
            return s;
        }

        return ReadSplitString(length);
    }

    private string ReadSplitString(int length)
    {
        byte[]? rented = null;
        Span<byte> buffer = length <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            buffer = buffer[..length];
            _reader.TryCopyTo(buffer);
            _reader.Advance(length);
            return DecodeUtf8(buffer);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes))
        {
            ThrowHelper.ThrowMalformed("String is not well-formed UTF-8 [MQTT-1.5.4-1].");
        }

        if (bytes.Contains((byte)0))
        {
            ThrowHelper.ThrowMalformed("String contains U+0000 [MQTT-1.5.4-2].");
        }

        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads binary data (spec 1.5.6): 2-byte length and the bytes, copied into a new array.</summary>
    public byte[] ReadBinary()
    {
        int length = ReadUInt16();
        if (_reader.Remaining < length)
        {
            ThrowHelper.ThrowTruncated();
        }

        byte[] value = _reader.UnreadSequence.Slice(0, length).ToArray();
        _reader.Advance(length);
        return value;
    }

    /// <summary>Copies everything left (a payload) into one new array.</summary>
    public byte[] ReadRemaining()
    {
        if (_reader.End)
        {
            return [];
        }

        byte[] value = _reader.UnreadSequence.ToArray();
        _reader.AdvanceToEnd();
        return value;
    }

    /// <summary>Throws when bytes follow the packet's content.</summary>
    public readonly void EnsureEnd()
    {
        if (!_reader.End)
        {
            ThrowHelper.ThrowMalformed($"{_reader.Remaining} unexpected bytes after the packet's content.");
        }
    }
}
