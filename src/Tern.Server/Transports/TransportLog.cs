using System.Net;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Transports;

/// <summary>Transport log messages; event ids 1050-1069 (Tern.Server's range, see Hosting/Log.cs).</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 1050, Level = LogLevel.Warning, Message = "Connection from {RemoteEndPoint} on {Listener} closed: invalid PROXY protocol header: {Reason}")]
    public static partial void ProxyHeaderRejected(ILogger logger, EndPoint? remoteEndPoint, string listener, string reason);

    [LoggerMessage(EventId = 1051, Level = LogLevel.Debug, Message = "Connection from {RemoteEndPoint} via proxy {ProxyEndPoint} on {Listener}")]
    public static partial void ProxiedConnection(ILogger logger, EndPoint remoteEndPoint, EndPoint? proxyEndPoint, string listener);

    [LoggerMessage(EventId = 1052, Level = LogLevel.Warning, Message = "TLS client certificate '{Subject}' refused on {Listener}: {Reason}")]
    public static partial void ClientCertificateRejected(ILogger logger, string subject, string listener, string reason);

    [LoggerMessage(EventId = 1053, Level = LogLevel.Information, Message = "Connection {ConnectionId} from {RemoteEndPoint} on {Listener}: client certificate '{Subject}', user name '{Username}'")]
    public static partial void ClientCertificateIdentity(ILogger logger, string connectionId, EndPoint? remoteEndPoint, string listener, string subject, string? username);

    [LoggerMessage(EventId = 1054, Level = LogLevel.Warning, Message = "Connection {ConnectionId} from {RemoteEndPoint} on {Listener} closed: client certificate '{Subject}' has no {Source} to use as user name")]
    public static partial void NoCertificateUsername(ILogger logger, string connectionId, EndPoint? remoteEndPoint, string listener, string subject, string source);

    [LoggerMessage(EventId = 1055, Level = LogLevel.Information, Message = "WebSocket request from {RemoteEndPoint} on {Listener} refused: {Reason}")]
    public static partial void WebSocketRefused(ILogger logger, EndPoint? remoteEndPoint, string listener, string reason);

    [LoggerMessage(EventId = 1056, Level = LogLevel.Warning, Message = "WebSocket connection {ConnectionId} from {RemoteEndPoint} closed: {Reason}")]
    public static partial void WebSocketViolation(ILogger logger, string connectionId, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(EventId = 1057, Level = LogLevel.Error, Message = "Accepting a connection on {Listener} failed ({Error}): {Reason}; retrying")]
    public static partial void AcceptFailed(ILogger logger, string listener, string error, string reason);

    [LoggerMessage(EventId = 1058, Level = LogLevel.Error, Message = "Connection {ConnectionId} from {RemoteEndPoint} failed")]
    public static partial void ConnectionFailed(ILogger logger, string connectionId, EndPoint? remoteEndPoint, Exception exception);
}
