using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Tern.Broker;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// One accepted TCP connection as the broker engine sees every transport: a duplex pipe. It is its
/// own input (<see cref="PipeReader"/>, in SocketConnection.Input.cs); its output is a
/// <see cref="SocketOutput"/>. Both hold buffers only while bytes are in flight. It is also the
/// broker's handle to abort, half-close and close it (<see cref="IMqttTransportControl"/>): no
/// delegate, continuation or async frame per connection.
/// </summary>
/// <remarks>
/// One lock (this object; nothing outside the class locks on a reader) guards the state shared by
/// the reader, the readiness callback and <see cref="CancelPendingRead"/>. Continuations run outside it.
/// </remarks>
internal sealed partial class SocketConnection : PipeReader, IDuplexPipe, IMqttTransportControl, IValueTaskSource<ReadResult>, IPolled
{
    private readonly Socket? _socket;             // without a poller (or refused by it): .NET's socket engine
    private readonly SocketOutput _output;
    private readonly TcpTransport _transport;
    private int _closed;

    /// <summary>
    /// Takes over an accepted socket: with a poller that accepts it, only its descriptor is kept
    /// (the <paramref name="socket"/> object must not be used again), else the socket itself.
    /// </summary>
    public SocketConnection(Socket socket, SocketPoller? poller, TcpTransport transport)
    {
        _transport = transport;
        if (poller is not null)
        {
            PollToken = poller.Register(this);
            if (poller.Add(socket.SafeHandle, PollToken))
            {
                _poller = poller;
                _handle = SocketDescriptor.TakeFrom(socket);
                _output = new SocketOutput(_handle, poller.Writable!);
                return;
            }

            poller.Unregister(PollToken);
            PollToken = 0;
        }

        // Receives and sends that cannot go on at once return WouldBlock instead of blocking a thread.
        socket.Blocking = false;
        _socket = socket;
        _output = new SocketOutput(socket);
    }

    public PipeReader Input => this;

    public PipeWriter Output => _output;

    /// <summary>In <see cref="TcpTransport"/>'s list of open connections, to abort them at stop.</summary>
    internal SocketConnection? Previous { get; set; }

    internal SocketConnection? Next { get; set; }

    /// <summary>From the broker: it is done with the connection. Close it and forget it.</summary>
    public void Completed()
    {
        Close();
        _transport.Remove(this);
    }

    /// <summary>Ends the connection at once with a reset; a pending read or flush ends.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        StopReceiving();
        _output.StopSending();
        if (_handle is not null)
        {
            LinuxSocket.ResetOnClose(_handle);
            _handle.Dispose();
            return;
        }

        try
        {
            _socket!.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        _socket!.Dispose();
    }

    /// <summary>Half-closes: the client gets a FIN after what was sent, and can still send.</summary>
    public void ShutdownSend() => Shutdown(SocketShutdown.Send);

    /// <summary>After the broker is done with the connection: close it and give back its buffers.</summary>
    public void Close()
    {
        Complete();
        _output.Complete();
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        StopReceiving();
        _output.StopSending();
        Shutdown(SocketShutdown.Both);
        if (_handle is not null)
        {
            _handle.Dispose();
        }
        else
        {
            _socket!.Dispose();
        }
    }

    private void Shutdown(SocketShutdown how)
    {
        if (_handle is not null)
        {
            LinuxSocket.Shutdown(_handle, how);
            return;
        }

        try
        {
            _socket!.Shutdown(how);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed by the client.
        }
    }
}
