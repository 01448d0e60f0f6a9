using System.Net;
using System.Net.Sockets;
using Tern.Server.Transports.Tcp;

namespace Tern.Server.Tests.Transports;

/// <summary>
/// Tern's TCP connection on a real socket pair: a read that waits ends when the connection is
/// aborted (the broker's read loop is waiting when it aborts a connection), with and without the
/// epoll set (a closed descriptor leaves epoll silently, so the transport has to end that wait itself).
/// </summary>
public sealed class SocketConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_waiting_read_ends_when_the_connection_is_aborted(bool epoll)
    {
        var (server, client) = await ConnectedPairAsync(epoll);
        using var peer = client;
        var connection = new SocketConnection(server, epoll ? SocketPoller.Shared : null, transport: null!);

        // Bytes first, so the wait below is a real second wait on an idle socket.
        await peer.SendAsync(new byte[] { 1, 2, 3 });
        var first = await connection.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(3, first.Buffer.Length);
        connection.Input.AdvanceTo(first.Buffer.End);

        var waiting = connection.Input.ReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        connection.Abort();

        var last = await waiting.WaitAsync(Timeout);
        Assert.True(last.IsCompleted, "the read after an abort did not end the stream");
    }

    private static async Task<(Socket Server, Socket Client)> ConnectedPairAsync(bool epoll)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        if (!epoll)
        {
            server.Blocking = false;
        }

        return (server, client);
    }
}
