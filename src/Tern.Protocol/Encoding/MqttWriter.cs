using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tern.Protocol;

/// <summary>
/// Writes MQTT data types into an <see cref="IBufferWriter{T}"/>. Like Kestrel's BufferWriter it
/// caches the span from <c>GetSpan</c> and advances the underlying writer only in
/// <see cref="Commit"/> (or when it needs a new span), so each small write is a bounds check and a store.
/// </summary>
internal ref struct MqttWriter
{
    // Big payloads are copied in chunks of this size so that a PipeWriter is never asked for
    // one giant unpooled segment.
    private const int ChunkSize = 4096;

    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _buffered;

    public MqttWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = default;
        _buffered = 0;
    }

    /// <summary>Advances the underlying writer past everything written so far.</summary>
    public void Commit()
    {
        if (_buffered > 0)
        {
            _output.Advance(_buffered);
            _buffered = 0;
        }

        _span = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Ensure(int count)
    {
        if (_span.Length < count)
        {
            Grow(count);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int count)
    {
        Commit();
        _span = _output.GetSpan(count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Advance(int count)
    {
        _buffered += count;
        _span = _span[count..];
    }

    public void WriteByte(byte value)
    {
        Ensure(1);
        _span[0] = value;
        Advance(1);
    }

    public void WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_span, value);
        Advance(2);
    }

    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_span, value);
        Advance(4);
    }

    public void WriteVariableByteInteger(int value)
    {
        Ensure(VariableByteInteger.MaxSize);
        Advance(VariableByteInteger.Write(_span, value));
    }

    /// <summary>Writes the fixed header: first byte and remaining length.</summary>
    public void WriteFixedHeader(byte header, int remainingLength)
    {
        Ensure(1 + VariableByteInteger.MaxSize);
        _span[0] = header;
        Advance(1 + VariableByteInteger.Write(_span[1..], remainingLength));
    }

    /// <summary>Writes a UTF-8 encoded string (spec 1.5.4): 2-byte length and the bytes.</summary>
    public void WriteString(string value)
    {
        int byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgument("A string is at most 65535 UTF-8 bytes.", nameof(value));
        }

        Ensure(2 + byteCount);
        BinaryPrimitives.WriteUInt16BigEndian(_span, (ushort)byteCount);
        Encoding.UTF8.GetBytes(value, _span[2..]);
        Advance(2 + byteCount);
    }

    /// <summary>Writes binary data (spec 1.5.6), or an already encoded string: 2-byte length and the bytes.</summary>
    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgument("Binary data and strings are at most 65535 bytes.", nameof(value));
        }

        WriteUInt16((ushort)value.Length);
        WriteRaw(value);
    }

    /// <summary>Writes bytes as they are (payloads).</summary>
    public void WriteRaw(ReadOnlySpan<byte> value)
    {
        while (!value.IsEmpty)
        {
            if (_span.IsEmpty)
            {
                Grow(Math.Min(value.Length, ChunkSize));
            }

            int n = Math.Min(value.Length, _span.Length);
            value[..n].CopyTo(_span);
            Advance(n);
            value = value[n..];
        }
    }

    /// <summary>The wire size of a UTF-8 string: 2-byte length plus its bytes.</summary>
    public static int GetStringSize(string value) => 2 + Encoding.UTF8.GetByteCount(value);
}
