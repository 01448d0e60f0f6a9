using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Transports;

/// <summary>
/// Kestrel connection middleware for a listener behind HAProxy/NGINX: reads the PROXY header before
/// TLS or MQTT and makes the client's real address the connection's remote address, so that logs,
/// ACLs and bans see the client rather than the proxy. A connection without a valid header is closed.
/// </summary>
internal static class ProxyProtocolMiddleware
{
    /// <summary>A proxy sends the header at once; a peer that does not is not a proxy.</summary>
    public static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(10);

    public static Func<ConnectionDelegate, ConnectionDelegate> Create(string listener, ILogger logger) => next => async connection =>
    {
        IPEndPoint? source;
        try
        {
            using var timeout = new CancellationTokenSource(HeaderTimeout);
            using var closed = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, connection.ConnectionClosed);
            source = await ReadHeaderAsync(connection.Transport.Input, closed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            TransportLog.ProxyHeaderRejected(logger, connection.RemoteEndPoint, listener, $"no header within {HeaderTimeout.TotalSeconds:0} s");
            connection.Abort();
            return;
        }
        catch (InvalidDataException ex)
        {
            TransportLog.ProxyHeaderRejected(logger, connection.RemoteEndPoint, listener, ex.Message);
            connection.Abort();
            return;
        }

        if (source is not null)
        {
            TransportLog.ProxiedConnection(logger, source, connection.RemoteEndPoint, listener);
            connection.RemoteEndPoint = source;
        }

        await next(connection).ConfigureAwait(false);
    };

    private static async Task<IPEndPoint?> ReadHeaderAsync(PipeReader input, CancellationToken ct)
    {
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            ProxyProtocolParser.Status status;
            int length;
            IPEndPoint? source;
            try
            {
                status = ProxyProtocolParser.TryParse(buffer, out length, out source);
            }
            catch
            {
                input.AdvanceTo(buffer.Start);
                throw;
            }

            if (status == ProxyProtocolParser.Status.Done)
            {
                // Only the header is consumed; what follows (TLS ClientHello, CONNECT) stays for the next stage.
                input.AdvanceTo(buffer.GetPosition(length));
                return source;
            }

            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start);
                throw new InvalidDataException("the connection closed inside the PROXY header");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
