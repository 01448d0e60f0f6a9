using System.Buffers;

namespace Tern.Protocol.Tests;

/// <summary>
/// The hot paths must not allocate. This counts bytes, not time, so it is deterministic; JIT
/// warm-up runs first so that tiering does not show up as allocation.
/// </summary>
public class AllocationTests
{
    private static long Measure(Action action)
    {
        for (int i = 0; i < 3; i++)
        {
            action();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            action();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void WritePublish_does_not_allocate()
    {
        var writer = new ArrayBufferWriter<byte>(1 << 20);
        byte[] topic = "sensors/1/temp"u8.ToArray();
        byte[] payload = new byte[100];
        Assert.Equal(0, Measure(() =>
        {
            writer.ResetWrittenCount();
            MqttEncoder.WritePublish(writer, MqttProtocolVersion.V311, topic, payload, MqttQoS.AtLeastOnce, false, false, 1, null);
        }));
    }

    [Fact]
    public void Matches_does_not_allocate()
    {
        Assert.Equal(0, Measure(() =>
        {
            _ = MqttTopic.Matches("sport/+/player1/#", "sport/tennis/player1/ranking");
            _ = MqttTopic.Matches("a/b", "a/c");
        }));
    }

    [Fact]
    public void TryReadFrame_does_not_allocate()
    {
        var data = new ReadOnlySequence<byte>(TestUtil.Hex("32 09 00 03 61 2F 62 00 0A 68 69"));
        Assert.Equal(0, Measure(() =>
        {
            ReadOnlySequence<byte> buffer = data;
            _ = MqttDecoder.TryReadFrame(ref buffer, 1024, out _);
        }));
    }
}
