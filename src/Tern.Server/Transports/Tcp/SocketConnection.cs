using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Tern.Broker;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// One accepted TCP connection as the broker engine sees every transport: a duplex pipe. Its
/// halves hold buffers only while bytes are in flight (see <see cref="SocketInput"/> and
/// <see cref="SocketOutput"/>). It is also the broker's handle to abort, half-close and close it
/// (<see cref="IMqttTransportControl"/>): no delegate, continuation or async frame per connection.
/// </summary>
internal sealed class SocketConnection : IDuplexPipe, IMqttTransportControl
{
    private readonly Socket _socket;
    private readonly SocketInput _input;
    private readonly SocketOutput _output;
    private int _closed;

    private readonly TcpTransport _transport;

    public SocketConnection(Socket socket, SocketPoller? poller, TcpTransport transport)
    {
        _socket = socket;
        _transport = transport;
        _input = new SocketInput(socket, poller);
        _output = new SocketOutput(socket, polled: poller is not null);
    }

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    public EndPoint? RemoteEndPoint => _socket.RemoteEndPoint;

    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;

    /// <summary>What the broker was told about the connection (for the transport's log).</summary>
    internal MqttConnectionInfo? Info { get; set; }

    /// <summary>In <see cref="TcpTransport"/>'s list of open connections, to abort them at stop.</summary>
    internal SocketConnection? Previous { get; set; }

    internal SocketConnection? Next { get; set; }

    /// <summary>From the broker: it is done with the connection. Close it and forget it.</summary>
    public void Completed()
    {
        Close();
        _transport.Remove(this);
    }

    /// <summary>Ends the connection at once with a reset; a pending read ends.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _input.Close();
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        _socket.Dispose();
    }

    /// <summary>Half-closes: the client gets a FIN after what was sent, and can still send.</summary>
    public void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed by the client.
        }
    }

    /// <summary>After the broker is done with the connection: close it and give back its buffers.</summary>
    public void Close()
    {
        _input.Complete();
        _output.Complete();
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _input.Close();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client closed first.
        }

        _socket.Dispose();
    }
}
