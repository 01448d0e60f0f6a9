using System.Net;
using System.Net.Sockets;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>
/// MQTT over plain TCP on Tern's own transport (the default): what an idle connection keeps, packets
/// larger than any buffer it rents, and Kestrel's transport as the alternative.
/// </summary>
public sealed class TcpTransportTests
{
    private static readonly Dictionary<string, string?> Memory = new() { ["Persistence:Mode"] = "memory" };

    // Idle sockets wait in Tern's epoll set (Linux), or with a zero-byte receive (elsewhere, and Epoll=false).
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Thousands_of_idle_connections_all_still_answer_pingreq(bool epoll)
    {
        // Both ends of every connection are in this process: two descriptors each.
        var count = Math.Min(4000, (OpenFilesLimit() - 400) / 2);
        Assert.True(count >= 1000, $"the open-files limit ({OpenFilesLimit()}) leaves room for {count} connections; raise ulimit -n");

        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>(Memory) { ["Listeners:Tcp:Epoll"] = epoll ? "true" : "false" });
        var sockets = new Socket?[count];
        try
        {
            await InBatchesAsync(count, async i =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets[i] = socket;
                await socket.ConnectAsync(IPAddress.Loopback, broker.Port);
                await socket.SendAsync(RawPackets.Connect($"idle-{i}"));
                Assert.Equal([0x20, 0x02, 0x00, 0x00], await ReceiveExactlyAsync(socket, 4, $"CONNACK of idle-{i}"));
            });

            // Every connection has been idle while the others connected; each still answers.
            await InBatchesAsync(count, async i =>
            {
                await sockets[i]!.SendAsync(new byte[] { 0xC0, 0x00 });
                Assert.Equal([0xD0, 0x00], await ReceiveExactlyAsync(sockets[i]!, 2, $"PINGRESP of idle-{i}"));
            });
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }

    [Theory]
    [InlineData("Tern", true)]
    [InlineData("Tern", false)]
    [InlineData("Kestrel", false)]
    public async Task A_packet_larger_than_any_buffer_crosses_whole_both_ways(string transport, bool epoll)
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Persistence:Mode"] = "memory",
            ["Listeners:Tcp:Transport"] = transport,
            ["Listeners:Tcp:Epoll"] = epoll ? "true" : "false",
            ["Broker:MaxPacketSize"] = (8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await using var subscriber = await broker.ConnectAsync(TestIds.Client("big-sub"));
        await using var publisher = await broker.ConnectAsync(TestIds.Client("big-pub"));
        var topic = TestIds.Topic("big");
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);

        var payload = new byte[5 * 1024 * 1024 + 17];
        new Random(20261204).NextBytes(payload);
        await publisher.PublishAsync(topic, payload, MqttQoS.AtLeastOnce);

        var received = await subscriber.ReceivePublishAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(topic, received.Topic);
        Assert.True(payload.AsSpan().SequenceEqual(received.Payload.Span), "the payload arrived changed");
        await BrokerHealth.AssertServesAsync(broker, subscriber, publisher);
    }

    [Fact]
    public async Task Kestrel_transport_serves_when_chosen()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory", ["Listeners:Tcp:Transport"] = "Kestrel" });
        Assert.Equal([$"mqtt://127.0.0.1:{broker.Port}"], broker.Server.ListeningOn);
        await using var client = await broker.ConnectAsync(TestIds.Client("kestrel"));
        await BrokerHealth.AssertServesAsync(broker, client);
    }

    private static async Task InBatchesAsync(int count, Func<int, Task> action)
    {
        const int Batch = 200;
        for (var start = 0; start < count; start += Batch)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(Batch, count - start)).Select(action));
        }
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length, string what)
    {
        var buffer = new byte[length];
        using var timeout = new CancellationTokenSource(TestTimeouts.Receive * 4);
        var read = 0;
        while (read < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, $"the broker closed the connection before the {what}");
            read += n;
        }

        return buffer;
    }

    private static int OpenFilesLimit()
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                return int.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 1024;
    }
}
