using System.IO.Pipelines;
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_read_awaited_on_a_synchronization_context_resumes_on_it_when_bytes_arrive(bool epoll)
    {
        var (server, client) = await ConnectedPairAsync(epoll);
        using var peer = client;
        var connection = new SocketConnection(server, epoll ? SocketPoller.Shared : null, transport: null!);
        var read = connection.Input.ReadAsync();
        Assert.False(read.IsCompleted);

        // Awaited without ConfigureAwait(false) under a context of the test's own: the continuation is posted to it.
        var context = new CountingContext();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context);
        Task<(long Length, SynchronizationContext? ResumedOn)> resumed;
        try
        {
            resumed = AwaitAsync(read);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        await peer.SendAsync(new byte[] { 7, 8 });
        var (length, resumedOn) = await resumed.WaitAsync(Timeout);
        Assert.Equal(2, length);
        Assert.Same(context, resumedOn);
        Assert.Equal(1, context.Posted);
        connection.Abort();

        async Task<(long, SynchronizationContext?)> AwaitAsync(ValueTask<ReadResult> pending)
        {
            var result = await pending;
            connection.Input.AdvanceTo(result.Buffer.End);
            return (result.Buffer.Length, SynchronizationContext.Current);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_flush_into_a_full_socket_waits_until_the_client_reads_and_every_byte_arrives_in_order(bool epoll)
    {
        var (server, client) = await ConnectedPairAsync(epoll);
        using var peer = client;
        var connection = new SocketConnection(server, epoll ? SocketPoller.Shared : null, transport: null!);

        // Far more than the kernel's send and receive buffers on loopback take: the flush has to wait.
        const int total = 64 * 1024 * 1024;
        var written = 0;
        ValueTask<FlushResult> flush = default;
        while (written < total)
        {
            var span = connection.Output.GetSpan(64 * 1024);
            var chunk = Math.Min(span.Length, total - written);
            for (var i = 0; i < chunk; i++)
            {
                span[i] = (byte)((written + i) % 251);
            }

            connection.Output.Advance(chunk);
            written += chunk;
            flush = connection.Output.FlushAsync();
            if (!flush.IsCompleted)
            {
                break;
            }

            Assert.False((await flush).IsCompleted);
        }

        Assert.False(flush.IsCompleted, "the socket took 64 MiB without the client reading");

        // The client reads: the waiting flush ends once the socket took the rest, and then everything is there.
        var reading = ReadAllAsync(peer, written);
        var result = await flush.AsTask().WaitAsync(Timeout);
        Assert.False(result.IsCompleted);
        var received = await reading.WaitAsync(Timeout);
        Assert.Equal(written, received);
        connection.Abort();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_flush_that_waits_for_a_full_socket_ends_when_the_connection_is_aborted(bool epoll)
    {
        var (server, client) = await ConnectedPairAsync(epoll);
        using var peer = client;
        var connection = new SocketConnection(server, epoll ? SocketPoller.Shared : null, transport: null!);

        ValueTask<FlushResult> flush = default;
        for (var i = 0; i < 1024 && (i == 0 || flush.IsCompleted); i++)
        {
            connection.Output.Advance(connection.Output.GetSpan(64 * 1024).Length);
            flush = connection.Output.FlushAsync();
        }

        Assert.False(flush.IsCompleted, "the socket took 64 MiB without the client reading");
        connection.Abort();

        var result = await flush.AsTask().WaitAsync(Timeout);
        Assert.True(result.IsCompleted, "the flush after an abort did not say the connection is gone");
    }

    /// <summary>Reads until the server closes or <paramref name="expected"/> bytes came, checking the pattern written.</summary>
    private static async Task<int> ReadAllAsync(Socket peer, int expected)
    {
        var buffer = new byte[256 * 1024];
        var total = 0;
        while (total < expected)
        {
            var n = await peer.ReceiveAsync(buffer);
            if (n == 0)
            {
                break;
            }

            for (var i = 0; i < n; i++)
            {
                Assert.Equal((byte)((total + i) % 251), buffer[i]);
            }

            total += n;
        }

        return total;
    }

    /// <summary>Runs what is posted to it on the thread pool, as itself, and counts the posts.</summary>
    private sealed class CountingContext : SynchronizationContext
    {
        private int _posted;

        public int Posted => Volatile.Read(ref _posted);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posted);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                SetSynchronizationContext(this);
                d(state);
            });
        }
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
