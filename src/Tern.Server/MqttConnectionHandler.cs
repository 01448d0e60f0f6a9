using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Listeners;
using Tern.Server.Transports;

namespace Tern.Server;

/// <summary>
/// Hands each Kestrel connection to the broker engine. Public so that an ASP.NET Core app can embed
/// the broker: register <see cref="MqttBroker"/> as a singleton and call
/// <c>listenOptions.UseConnectionHandler&lt;MqttConnectionHandler&gt;()</c>.
/// </summary>
public sealed class MqttConnectionHandler : ConnectionHandler
{
    private readonly MqttBroker _broker;
    private readonly ILogger _logger;

    public MqttConnectionHandler(MqttBroker broker, ILogger<MqttConnectionHandler>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        _broker = broker;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);

        // Tern's listeners say which one they are; an embedding app's plain listener is "tcp".
        var listener = connection.Features.Get<MqttListenerFeature>();
        var tls = connection.Features.Get<ITlsConnectionFeature>();
        var certificate = tls?.ClientCertificate;
        var username = listener?.UsernameFor(certificate);
        var name = listener?.Name ?? "tcp";
        if (certificate is not null)
        {
            TransportLog.ClientCertificateIdentity(_logger, connection.ConnectionId, connection.RemoteEndPoint, name, certificate.Subject, username);
            if (listener is { PeerCertAsUsername: true } && username is null)
            {
                TransportLog.NoCertificateUsername(_logger, connection.ConnectionId, connection.RemoteEndPoint, name, certificate.Subject, listener.UsernameFrom.ToString());
                connection.Abort();
                return Task.CompletedTask;
            }
        }

        var info = new MqttConnectionInfo(
            connection.ConnectionId,
            connection.RemoteEndPoint,
            connection.LocalEndPoint,
            name,
            connection.Abort)
        {
            // Half-closing the socket under TLS would cut the stream without a close_notify; there the
            // broker's linger just waits for the client to close.
            ShutdownSend = tls is null && connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket
                ? () => ShutdownSend(socket)
                : null,
            ClientCertificate = certificate,
            CertificateUsername = username,
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
