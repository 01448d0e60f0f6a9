using System.Buffers;

namespace Tern.Protocol.Tests;

public class VariableByteIntegerTests
{
    // Boundaries from spec table 1.5.5: each size's smallest and largest value.
    [Theory]
    [InlineData(0, "00")]
    [InlineData(127, "7F")]
    [InlineData(128, "8001")]
    [InlineData(16_383, "FF7F")]
    [InlineData(16_384, "808001")]
    [InlineData(2_097_151, "FFFF7F")]
    [InlineData(2_097_152, "80808001")]
    [InlineData(268_435_455, "FFFFFF7F")]
    public void Encodes_and_decodes_boundaries(int value, string hex)
    {
        Span<byte> buffer = stackalloc byte[4];
        int written = VariableByteInteger.Write(buffer, value);
        Assert.Equal(hex, TestUtil.ToHex(buffer[..written]));
        Assert.Equal(written, VariableByteInteger.GetSize(value));

        Assert.True(VariableByteInteger.TryRead(buffer[..written], out int decoded, out int consumed));
        Assert.Equal(value, decoded);
        Assert.Equal(written, consumed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_383)]
    [InlineData(16_384)]
    [InlineData(2_097_151)]
    [InlineData(2_097_152)]
    public void Remaining_length_boundaries_frame_correctly(int remaining)
    {
        // PUBLISH QoS 0 whose payload pads the body to exactly `remaining` bytes (topic "t" takes 3).
        if (remaining < 3)
        {
            remaining = 3;
        }

        var packet = new PublishPacket { Topic = "t", Payload = new byte[remaining - 3] };
        byte[] bytes = MqttEncoder.ToArray(packet, MqttProtocolVersion.V311);
        Assert.Equal(1 + VariableByteInteger.GetSize(remaining) + remaining, bytes.Length);
        var decoded = (PublishPacket)TestUtil.Decode(bytes, MqttProtocolVersion.V311);
        Assert.Equal(remaining - 3, decoded.Payload.Length);
    }

    [Fact]
    public void Value_over_four_bytes_cannot_be_encoded()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => VariableByteInteger.GetSize(268_435_456));
    }

    [Fact]
    public void Five_byte_remaining_length_is_malformed_MQTT_1_5_5()
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("30 FF FF FF FF 7F"));
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out _));
        Assert.Equal(ReasonCode.MalformedPacket, ex.ReasonCode);
    }

    [Fact]
    public void Four_continuation_bytes_are_malformed_before_the_fifth_arrives()
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("30 FF FF FF FF"));
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out _));
        Assert.Equal(ReasonCode.MalformedPacket, ex.ReasonCode);
    }
}
