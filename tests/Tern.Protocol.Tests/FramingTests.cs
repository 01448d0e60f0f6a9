using System.Buffers;

namespace Tern.Protocol.Tests;

public class FramingTests
{
    [Fact]
    public void Packet_too_large_is_refused_from_the_fixed_header_alone()
    {
        // Remaining length 268435455 and no body: the caller must not have to buffer it.
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("30 FF FF FF 7F"));
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.TryReadFrame(ref buffer, 1024 * 1024, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, ex.ReasonCode);
    }

    [Fact]
    public void Max_packet_size_counts_the_fixed_header()
    {
        byte[] bytes = TestUtil.Hex("30 07 00 03 61 2F 62 68 69"); // 9 bytes
        var ok = new ReadOnlySequence<byte>(bytes);
        Assert.True(MqttDecoder.TryReadFrame(ref ok, 9, out _));

        var tooBig = new ReadOnlySequence<byte>(bytes);
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.TryReadFrame(ref tooBig, 8, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, ex.ReasonCode);
    }

    [Fact]
    public void Packet_type_0_is_malformed()
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("00 00"));
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out _));
        Assert.Equal(ReasonCode.MalformedPacket, ex.ReasonCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("30")]
    [InlineData("30 80")]
    [InlineData("30 80 01")]
    [InlineData("30 07 00 03 61 2F 62 68")]
    public void Incomplete_input_needs_more_and_leaves_buffer_unchanged(string hex)
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex(hex));
        ReadOnlySequence<byte> before = buffer;
        Assert.False(MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out _));
        Assert.Equal(before, buffer);
    }

    [Fact]
    public void Frames_several_packets_from_one_buffer()
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("C0 00 30 07 00 03 61 2F 62 68 69 D0 00 E0"));
        var types = new List<MqttPacketType>();
        while (MqttDecoder.TryRead(ref buffer, MqttProtocolVersion.V311, int.MaxValue, out MqttPacket? packet))
        {
            types.Add(packet!.Type);
        }

        Assert.Equal([MqttPacketType.PingReq, MqttPacketType.Publish, MqttPacketType.PingResp], types);
        Assert.Equal(1, buffer.Length); // the lone E0 waits for its remaining length
    }

    [Fact]
    public void Frame_exposes_header_flags_body_and_length()
    {
        var buffer = new ReadOnlySequence<byte>(TestUtil.Hex("3B 09 00 03 61 2F 62 00 0A 68 69 FF"));
        Assert.True(MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out MqttFrame frame));
        Assert.Equal(0x3B, frame.Header);
        Assert.Equal(MqttPacketType.Publish, frame.Type);
        Assert.Equal(0x0B, frame.Flags);
        Assert.Equal(9, frame.Body.Length);
        Assert.Equal(11, frame.Length);
        Assert.Equal(1, buffer.Length);
    }

    [Fact]
    public void Fixed_header_split_across_segments_is_framed()
    {
        byte[] bytes = MqttEncoder.ToArray(
            new PublishPacket { Topic = "t", Payload = new byte[300] }, MqttProtocolVersion.V311);
        ReadOnlySequence<byte> buffer = TestUtil.Segmented(bytes, () => 1);
        Assert.True(MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out MqttFrame frame));
        Assert.Equal(bytes.Length, frame.Length);
        Assert.True(buffer.IsEmpty);
    }
}
