using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Tern.Protocol;

/// <summary>
/// Throw sites kept out of line so that the hot paths calling them stay small and inlinable.
/// </summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMalformed(string message) => throw MqttProtocolException.Malformed(message);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowProtocolError(string message) => throw MqttProtocolException.ProtocolError(message);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw(ReasonCode reasonCode, string message) => throw new MqttProtocolException(reasonCode, message);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowTruncated() => throw MqttProtocolException.Malformed("Packet ends before its content does.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowPacketTooLarge(long size, int maxPacketSize) =>
        throw new MqttProtocolException(
            ReasonCode.PacketTooLarge,
            $"Packet of {size} bytes exceeds the maximum packet size of {maxPacketSize} bytes.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowVariableByteIntegerOutOfRange(int value) =>
        throw new ArgumentOutOfRangeException(nameof(value), value, "A variable byte integer holds 0..268435455.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowUnsupportedVersion(MqttProtocolVersion version) =>
        throw new ArgumentOutOfRangeException(nameof(version), version, "Protocol version must be 3, 4 or 5.");
}
