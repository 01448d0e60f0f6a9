using System.Buffers;

namespace Tern.Protocol.Tests.Fuzz;

/// <summary>
/// Inputs from fuzzing (docs/fuzzing.md), checked against the decoder target's rules: the decoder
/// only throws <see cref="MqttProtocolException"/>; every packet it decodes survives the encoder
/// round trip (encode(decode(encode(p))) == encode(p)); bytes in one-byte segments decode as in one.
/// A crash the fuzzer finds is added here as hex (without the fuzz input's selector byte).
/// </summary>
public sealed class DecoderFuzzRegressionTests
{
    [Theory]
    // AFL++ (afl-tmin) minimised: two 3.1 UNSUBACKs, then packet type 0.
    [InlineData(MqttProtocolVersion.V310, "B00230 30B00230300B")]
    // Remaining length in five bytes (malformed).
    [InlineData(MqttProtocolVersion.V311, "30FFFFFFFF01")]
    // Remaining length 2^28-1 announced, body missing: needs more, never allocates it.
    [InlineData(MqttProtocolVersion.V500, "30FFFFFF7F")]
    // 5.0 PUBLISH with a topic alias property and an empty topic, then a truncated second packet.
    [InlineData(MqttProtocolVersion.V500, "300700000323000161 3007")]
    // 5.0 SUBSCRIBE whose property length runs past the packet.
    [InlineData(MqttProtocolVersion.V500, "8206000105 0B01 00")]
    // 3.1.1 CONNECT with the will flag and a will topic length past the end.
    [InlineData(MqttProtocolVersion.V311, "100E00044D5154540404000A0000FFFF")]
    public void DecodesOrRefusesAndRoundTrips(MqttProtocolVersion version, string hex)
    {
        var bytes = TestUtil.Hex(hex);

        var whole = DecodeAll(new ReadOnlySequence<byte>(bytes), version);
        var split = DecodeAll(TestUtil.Segmented(bytes, () => 1), version);

        Assert.Equal(whole, split);
    }

    /// <summary>Decodes until more bytes are needed; returns each packet re-encoded, then how it stopped.</summary>
    private static List<string> DecodeAll(ReadOnlySequence<byte> buffer, MqttProtocolVersion version)
    {
        var seen = new List<string>();
        try
        {
            while (MqttDecoder.TryRead(ref buffer, version, 1024 * 1024, out var packet))
            {
                Assert.NotNull(packet);
                var encoded = MqttEncoder.ToArray(packet, version);
                Assert.Equal(MqttEncoder.GetSize(packet, version), encoded.Length);
                var again = MqttEncoder.ToArray(TestUtil.Decode(encoded, version), version);
                Assert.Equal(TestUtil.ToHex(encoded), TestUtil.ToHex(again));
                seen.Add(TestUtil.ToHex(encoded));
            }

            seen.Add($"needs more, {buffer.Length} bytes left");
        }
        catch (MqttProtocolException ex)
        {
            seen.Add($"refused: {ex.ReasonCode}");
        }

        return seen;
    }
}
