using System.Buffers;

namespace Tern.Protocol.Tests;

/// <summary>
/// Hostile input may only ever produce <see cref="MqttProtocolException"/>: never another exception
/// type, which the broker would treat as a crash. Mutates valid packets deterministically.
/// </summary>
public class RobustnessTests
{
    public static TheoryData<MqttProtocolVersion> Versions =>
        new() { MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500 };

    [Theory]
    [MemberData(nameof(Versions))]
    public void Mutated_packets_throw_only_protocol_exceptions(MqttProtocolVersion version)
    {
        var random = new Random(1234 + (int)version);
        List<byte[]> seeds = RoundTripTests.PacketsFor(version)
            .Where(p => MqttEncoder.GetSize(p, version) < 2000)
            .Select(p => MqttEncoder.ToArray(p, version))
            .ToList();
        for (int round = 0; round < 20_000; round++)
        {
            byte[] bytes = (byte[])seeds[random.Next(seeds.Count)].Clone();
            Mutate(bytes, random);
            int length = random.Next(4) == 0 ? random.Next(bytes.Length + 1) : bytes.Length;
            TryDecodeAll(bytes.AsMemory(0, length), version);
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Random_bytes_throw_only_protocol_exceptions(MqttProtocolVersion version)
    {
        var random = new Random(99 + (int)version);
        for (int round = 0; round < 20_000; round++)
        {
            byte[] bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            TryDecodeAll(bytes, version);
        }
    }

    private static void Mutate(byte[] bytes, Random random)
    {
        int flips = random.Next(1, 4);
        for (int i = 0; i < flips; i++)
        {
            int at = random.Next(bytes.Length);
            bytes[at] = random.Next(3) switch
            {
                0 => (byte)(bytes[at] ^ (1 << random.Next(8))),
                1 => (byte)random.Next(256),
                _ => 0,
            };
        }
    }

    private static void TryDecodeAll(ReadOnlyMemory<byte> bytes, MqttProtocolVersion version)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        try
        {
            while (MqttDecoder.TryRead(ref buffer, version, 1 << 16, out MqttPacket? packet))
            {
                Assert.NotNull(packet);
            }
        }
        catch (MqttProtocolException)
        {
        }
    }
}
