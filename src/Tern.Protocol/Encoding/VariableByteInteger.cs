using System.Runtime.CompilerServices;

namespace Tern.Protocol;

/// <summary>
/// The variable byte integer of spec 1.5.5 (remaining length, property length, subscription
/// identifier): 7 bits per byte, least significant group first, at most 4 bytes.
/// </summary>
public static class VariableByteInteger
{
    /// <summary>The largest value four bytes can carry (268,435,455, i.e. 256 MiB - 1).</summary>
    public const int MaxValue = 268_435_455;

    /// <summary>The most bytes an encoded value may take.</summary>
    public const int MaxSize = 4;

    /// <summary>Bytes needed to encode <paramref name="value"/> (1..4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetSize(int value)
    {
        if ((uint)value > MaxValue)
        {
            ThrowHelper.ThrowVariableByteIntegerOutOfRange(value);
        }

        return value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;
    }

    /// <summary>Writes <paramref name="value"/> into <paramref name="destination"/> and returns the bytes written.</summary>
    public static int Write(Span<byte> destination, int value)
    {
        if ((uint)value > MaxValue)
        {
            ThrowHelper.ThrowVariableByteIntegerOutOfRange(value);
        }

        int i = 0;
        uint v = (uint)value;
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            if (v != 0)
            {
                b |= 0x80;
            }

            destination[i++] = b;
        }
        while (v != 0);
        return i;
    }

    /// <summary>
    /// Reads a value from the front of <paramref name="source"/>. Returns false when
    /// <paramref name="source"/> ends before the last byte of the value.
    /// </summary>
    /// <exception cref="MqttProtocolException">The encoding needs more than 4 bytes (malformed).</exception>
    public static bool TryRead(ReadOnlySpan<byte> source, out int value, out int bytesConsumed)
    {
        value = 0;
        int shift = 0;
        for (int i = 0; i < source.Length; i++)
        {
            if (i == MaxSize)
            {
                ThrowHelper.ThrowMalformed("Variable byte integer longer than 4 bytes.");
            }

            byte b = source[i];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                bytesConsumed = i + 1;
                return true;
            }

            shift += 7;
        }

        if (source.Length >= MaxSize)
        {
            ThrowHelper.ThrowMalformed("Variable byte integer longer than 4 bytes.");
        }

        value = 0;
        bytesConsumed = 0;
        return false;
    }
}
