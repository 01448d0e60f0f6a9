using System.Net;
using System.Net.Sockets;

namespace Tern.Cli.Tests;

internal static class Net
{
    /// <summary>A free port outside the kernel's ephemeral range (see <see cref="Tern.TestKit.TestPorts.Free"/>).</summary>
    public static int FreePort() => Tern.TestKit.TestPorts.Free();

    /// <summary>MQTT 3.1.1 CONNECT, clean session, keep alive 60, client id "t".</summary>
    public static readonly byte[] Connect311 =
    [
        0x10, 0x0D,                               // CONNECT, remaining length 13
        0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', // protocol name
        0x04,                                     // protocol level 4 (3.1.1)
        0x02,                                     // flags: clean session
        0x00, 0x3C,                               // keep alive 60 s
        0x00, 0x01, (byte)'t',                    // client id "t"
    ];

    /// <summary>Sends a 3.1.1 CONNECT to 127.0.0.1:<paramref name="port"/> and returns the first 4 bytes of the reply.</summary>
    public static async Task<byte[]> ConnectAndReadConnAckAsync(int port, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Connect311, cts.Token);
        var reply = new byte[4];
        await stream.ReadExactlyAsync(reply, cts.Token);
        return reply;
    }
}
