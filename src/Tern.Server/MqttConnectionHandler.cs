using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Tern.Broker;

namespace Tern.Server;

/// <summary>
/// Hands each Kestrel connection to the broker engine. Public so that an ASP.NET Core app can embed
/// the broker: register <see cref="MqttBroker"/> as a singleton and call
/// <c>listenOptions.UseConnectionHandler&lt;MqttConnectionHandler&gt;()</c>.
/// </summary>
public sealed class MqttConnectionHandler : ConnectionHandler
{
    private readonly MqttBroker _broker;

    public MqttConnectionHandler(MqttBroker broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        _broker = broker;
    }

    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var info = new MqttConnectionInfo(
            connection.ConnectionId,
            connection.RemoteEndPoint,
            connection.LocalEndPoint,
            "tcp",
            connection.Abort)
        {
            ShutdownSend = connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket
                ? () => ShutdownSend(socket)
                : null,
        };
        // Not ConnectionClosed: it fires when the receive side ends, possibly before the broker has
        // read the last packets the client sent; the completed pipe already ends the connection.
        return _broker.HandleConnectionAsync(connection.Transport, info);
    }

    private static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed by the client.
        }
    }
}
