using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Broker;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// MQTT over plain TCP without Kestrel: accepts sockets and hands each to the broker engine as a
/// <see cref="SocketConnection"/>. It exists for what an idle device costs: no pipes, no timers and
/// no buffers per connection at rest (docs/architecture.md, "Transports"). Started after the
/// broker's restore, as Kestrel's listeners are.
/// </summary>
internal sealed class TcpTransport(IPEndPoint configured, int backlog) : IHostedService
{
    private readonly Lock _gate = new();
    private readonly string _idPrefix = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6];
    private MqttBroker? _broker;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private SocketConnection? _head;
    private int _open;
    private bool _stopping;
    private TaskCompletionSource? _drained;
    private long _nextId;
    private long _lastAcceptFailureLog = long.MinValue;

    /// <summary>The bound address once started (port 0 reads back as the real port), else null.</summary>
    public IPEndPoint? BoundEndPoint { get; private set; }

    /// <summary>How inputs wait for bytes: the process's epoll poller (Linux), or null for zero-byte receives.</summary>
    internal SocketPoller? Poller { get; init; } = SocketPoller.Shared;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    public void Attach(MqttBroker broker, ILogger logger)
    {
        _broker = broker;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_broker is null)
        {
            throw new InvalidOperationException("The TCP transport has no broker.");
        }

        var listener = new Socket(configured.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (configured.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(configured);
            listener.Listen(backlog);
        }
        catch (SocketException ex)
        {
            listener.Dispose();

            // The shape Kestrel fails with, so that TernServer names the listener the same way for both transports.
            throw ex.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? new IOException($"Failed to bind to address mqtt://{configured}: address already in use.", new AddressInUseException(ex.Message, ex))
                : new IOException($"Failed to bind to address mqtt://{configured}: {ex.Message}", ex);
        }

        _listener = listener;
        BoundEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync(listener);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (_gate)
        {
            _stopping = true;
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_open == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // The broker has told its clients it is stopping and closed them; give those that are
        // still closing a moment, then cut the rest.
        await drained.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        SocketConnection[] left;
        lock (_gate)
        {
            left = new SocketConnection[_open];
            var i = 0;
            for (var c = _head; c is not null; c = c.Next)
            {
                left[i++] = c;
            }
        }

        foreach (var connection in left)
        {
            connection.Abort();
        }

        await drained.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        // Off the caller's thread: StartAsync returns once bound.
        await Task.Yield();
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted && Volatile.Read(ref _stopping))
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, typically: the listener stays, the connection waits in
                // the backlog, and the log says why once a second rather than once a retry.
                var now = Environment.TickCount64;
                if (now - _lastAcceptFailureLog >= 1000)
                {
                    _lastAcceptFailureLog = now;
                    TransportLog.AcceptFailed(_logger, "tcp", ex.SocketErrorCode.ToString(), ex.Message);
                }

                await Task.Delay(50).ConfigureAwait(false);
                continue;
            }

            Accept(socket);
        }
    }

    private void Accept(Socket socket)
    {
        SocketConnection connection;
        EndPoint? remote, local;
        try
        {
            socket.NoDelay = true;
            (remote, local) = (socket.RemoteEndPoint, socket.LocalEndPoint);

            // From here on the connection owns the socket (with a poller, only its descriptor).
            connection = new SocketConnection(socket, Poller, this);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset before we got to it.
            socket.Dispose();
            return;
        }

        lock (_gate)
        {
            if (_stopping)
            {
                connection.Abort();
                return;
            }

            connection.Next = _head;
            if (_head is not null)
            {
                _head.Previous = connection;
            }

            _head = connection;
            _open++;
        }

        var id = string.Create(CultureInfo.InvariantCulture, $"{_idPrefix}{Interlocked.Increment(ref _nextId):X}");
        var info = new MqttConnectionInfo(id, remote, local, "tcp", Abort: null)
        {
            Control = connection,
        };

        // The broker calls the connection's Completed when it is done with it (see IMqttTransportControl).
        try
        {
            _ = _broker!.HandleConnectionAsync(connection, info);
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionFailed(_logger, id, info.RemoteEndPoint, ex);
            connection.Completed();
        }
    }

    internal void Remove(SocketConnection connection)
    {
        lock (_gate)
        {
            if (connection.Previous is { } previous)
            {
                previous.Next = connection.Next;
            }
            else
            {
                _head = connection.Next;
            }

            if (connection.Next is { } next)
            {
                next.Previous = connection.Previous;
            }

            connection.Previous = connection.Next = null;
            if (--_open == 0 && _stopping)
            {
                _drained?.TrySetResult();
            }
        }
    }
}
