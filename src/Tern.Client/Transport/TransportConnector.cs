using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;

namespace Tern.Client;

/// <summary>Opens the byte stream for an endpoint: TCP, TLS over TCP, or a binary WebSocket with subprotocol <c>mqtt</c>.</summary>
internal static class TransportConnector
{
    public static async Task<Stream> ConnectAsync(BrokerEndpoint endpoint, MqttClientOptions options, CancellationToken ct)
    {
        var tls = endpoint.IsTls ? new TlsSettings(options) : null;
        if (endpoint.IsWebSocket)
        {
            return await ConnectWebSocketAsync(endpoint, tls, ct).ConfigureAwait(false);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var network = new NetworkStream(socket, ownsSocket: true);
        if (tls is null)
        {
            return network;
        }

        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = endpoint.Host,
                ClientCertificates = tls.ClientCertificates,
                RemoteCertificateValidationCallback = tls.Validate,
            }, ct).ConfigureAwait(false);
        }
        catch (AuthenticationException ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new MqttTlsException(tls.LastFailure ?? ex.Message, ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return ssl;
    }

    private static async Task<Stream> ConnectWebSocketAsync(BrokerEndpoint endpoint, TlsSettings? tls, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("mqtt");
        if (tls is not null)
        {
            ws.Options.RemoteCertificateValidationCallback = tls.Validate;
            if (tls.ClientCertificates is { } certs)
            {
                ws.Options.ClientCertificates = certs;
            }
        }

        string scheme = tls is null ? "ws" : "wss";
        var uri = new UriBuilder(scheme, endpoint.Host, endpoint.Port, endpoint.Path).Uri;
        try
        {
            await ws.ConnectAsync(uri, ct).ConfigureAwait(false);
        }
        catch (WebSocketException ex) when (tls?.LastFailure is { } failure)
        {
            ws.Dispose();
            throw new MqttTlsException(failure, ex);
        }
        catch
        {
            ws.Dispose();
            throw;
        }

        // MQTT packets may span WebSocket frames and a frame may hold several packets [MQTT-6.0.0-2..4]:
        // treat the messages as one byte stream.
        return WebSocketStream.Create(ws, WebSocketMessageType.Binary, ownsWebSocket: true);
    }
}
