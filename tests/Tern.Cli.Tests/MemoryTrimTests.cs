using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>Memory:TrimAfterMiB</c> in a real <c>tern start</c>: after a burst of connections, once the broker
/// is quiet, it compacts its heap and its resident memory falls, and every connection still answers.
/// </summary>
public sealed partial class MemoryTrimTests
{
    private const int Connections = 3000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_quiet_broker_gives_back_what_a_connect_burst_left_and_keeps_every_connection()
    {
        await using var tern = TernProcess.Start(["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Persistence:Mode=memory", "--Memory:TrimAfterMiB=4"]);
        var port = await tern.WaitForMqttPortAsync(Timeout);

        // Starting is a burst of its own: trimmed in the first quiet second.
        var first = await tern.WaitForLineAsync(l => l.Contains("Memory trimmed", StringComparison.Ordinal), Timeout);

        var clients = new List<Socket>(Connections);
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Timeout);
                await socket.SendAsync(Connect($"trim-{i}"));
                Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await ReadAsync(socket, 4));
            }

            var line = await tern.WaitForLineAsync(l => l.Contains("Memory trimmed", StringComparison.Ordinal) && l != first, Timeout);
            var match = TrimmedLine().Match(line);
            Assert.True(match.Success, line);
            var before = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            var after = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
            Assert.True(after < before, line);

            // The compaction moved the connections' objects: each still answers PINGREQ with PINGRESP.
            foreach (var socket in clients)
            {
                await socket.SendAsync(new byte[] { 0xC0, 0x00 });
            }

            foreach (var socket in clients)
            {
                Assert.Equal(new byte[] { 0xD0, 0x00 }, await ReadAsync(socket, 2));
            }
        }
        finally
        {
            foreach (var socket in clients)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_negative_TrimAfterMiB_is_refused_with_its_key()
    {
        var (code, refused) = await TernProcess.RunAsync(["start", "-p", "0", "--Memory:TrimAfterMiB=-1"]);
        await using var _ = refused;
        Assert.Equal(1, code);
        Assert.Contains("Memory:TrimAfterMiB must be 0 (off) or more.", refused.Stderr, StringComparison.Ordinal);
    }

    /// <summary>An MQTT 3.1.1 CONNECT, clean session, keep alive 600 s.</summary>
    private static byte[] Connect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        byte[] head = [0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x02, 0x58, (byte)(id.Length >> 8), (byte)id.Length];
        return [0x10, (byte)(head.Length + id.Length), .. head, .. id];
    }

    private static async Task<byte[]> ReadAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(Timeout);
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the broker closed the connection after {read} of {count} bytes");
            read += n;
        }

        return buffer;
    }

    [GeneratedRegex(@"resident ([\d.]+) MiB -> ([\d.]+) MiB")]
    private static partial Regex TrimmedLine();
}
