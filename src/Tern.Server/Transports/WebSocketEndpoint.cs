using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Listeners;

namespace Tern.Server.Transports;

/// <summary>
/// The HTTP side of an MQTT WebSocket listener: accepts the upgrade at the listener's path with an
/// MQTT subprotocol and hands the socket, as a byte stream, to the broker.
/// </summary>
internal sealed class WebSocketEndpoint(MqttBroker broker, ILogger logger)
{
    /// <summary>The subprotocols MQTT clients offer: <c>mqtt</c> (3.1.1 and 5.0) and <c>mqttv3.1</c> (3.1).</summary>
    private static readonly string[] SubProtocols = ["mqtt", "mqttv3.1"];

    public async Task HandleAsync(HttpContext context, MqttListenerFeature listener, string path)
    {
        var remote = RemoteEndPoint(context.Connection);
        if (!string.Equals(context.Request.Path.Value, path, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            TransportLog.WebSocketRefused(logger, remote, listener.Name, "not a WebSocket upgrade request");
            await RefuseAsync(context, "MQTT over WebSocket: send a WebSocket upgrade request with subprotocol 'mqtt'.").ConfigureAwait(false);
            return;
        }

        // The client's order of preference wins; the reply names the one chosen.
        string? subProtocol = null;
        foreach (var offered in context.WebSockets.WebSocketRequestedProtocols)
        {
            if (Array.Exists(SubProtocols, p => string.Equals(p, offered, StringComparison.OrdinalIgnoreCase)))
            {
                subProtocol = offered;
                break;
            }
        }

        if (subProtocol is null)
        {
            var offered = string.Join(", ", context.WebSockets.WebSocketRequestedProtocols);
            TransportLog.WebSocketRefused(logger, remote, listener.Name, $"subprotocol '{offered}' is not mqtt or mqttv3.1");
            await RefuseAsync(context, "MQTT over WebSocket needs the subprotocol 'mqtt' (or 'mqttv3.1').").ConfigureAwait(false);
            return;
        }

        var connectionId = context.Connection.Id;
        var certificate = context.Connection.ClientCertificate;
        var username = listener.UsernameFor(certificate);
        if (certificate is not null)
        {
            TransportLog.ClientCertificateIdentity(logger, connectionId, remote, listener.Name, certificate.Subject, username);
            if (listener.PeerCertAsUsername && username is null)
            {
                TransportLog.NoCertificateUsername(logger, connectionId, remote, listener.Name, certificate.Subject, listener.UsernameFrom.ToString());
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = subProtocol }).ConfigureAwait(false);
        var pipe = new WebSocketPipe(socket, broker.Options.MaxPacketSize, reason => TransportLog.WebSocketViolation(logger, connectionId, remote, reason));
        var info = new MqttConnectionInfo(connectionId, remote, LocalEndPoint(context.Connection), listener.Name, () =>
        {
            pipe.Abort();
            context.Abort();
        })
        {
            ShutdownSend = pipe.CloseOutput,
            ClientCertificate = certificate,
            CertificateUsername = username,
        };

        pipe.Start();
        try
        {
            await broker.HandleConnectionAsync(pipe, info).ConfigureAwait(false);
        }
        finally
        {
            await pipe.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async Task RefuseAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message + "\n").ConfigureAwait(false);
    }

    private static IPEndPoint? RemoteEndPoint(ConnectionInfo connection)
        => connection.RemoteIpAddress is { } address ? new IPEndPoint(address, connection.RemotePort) : null;

    private static IPEndPoint? LocalEndPoint(ConnectionInfo connection)
        => connection.LocalIpAddress is { } address ? new IPEndPoint(address, connection.LocalPort) : null;
}
