using Microsoft.Extensions.Logging;

namespace Tern.Broker;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Client {ClientId} connected from {RemoteEndPoint} (MQTT {Version}, clean {CleanStart}, keep alive {KeepAlive}s, session present {SessionPresent})")]
    public static partial void ClientConnected(ILogger logger, string clientId, string? remoteEndPoint, string version, bool cleanStart, int keepAlive, bool sessionPresent);

    [LoggerMessage(2, LogLevel.Information, "Client {ClientId} disconnected: {Reason}")]
    public static partial void ClientDisconnected(ILogger logger, string clientId, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Protocol violation by {ClientId} from {RemoteEndPoint}: {Reason} (reason code 0x{Code:X2}); connection closed")]
    public static partial void ProtocolViolation(ILogger logger, string clientId, string? remoteEndPoint, string reason, byte code);

    [LoggerMessage(4, LogLevel.Information, "Connection from {RemoteEndPoint} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string? remoteEndPoint, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Client {ClientId} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string clientId, string reason);

    [LoggerMessage(6, LogLevel.Error, "Unexpected error in the {Where} of the connection of {ClientId}; connection closed")]
    public static partial void UnexpectedError(ILogger logger, Exception exception, string clientId, string where);

    [LoggerMessage(7, LogLevel.Information, "Client {ClientId} took over the session of a connection from {RemoteEndPoint}")]
    public static partial void SessionTakenOver(ILogger logger, string clientId, string? remoteEndPoint);

    [LoggerMessage(8, LogLevel.Error, "$SYS update failed")]
    public static partial void SysUpdateFailed(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Debug, "Client {ClientId} may not publish to {Topic}; dropped")]
    public static partial void PublishDenied(ILogger logger, string clientId, string topic);

    [LoggerMessage(10, LogLevel.Information, "Client {ClientId} may not subscribe to {Filter}")]
    public static partial void SubscribeDenied(ILogger logger, string clientId, string filter);

    [LoggerMessage(11, LogLevel.Error, "Timer step '{Step}' failed; the timer goes on")]
    public static partial void TimerStepFailed(ILogger logger, Exception exception, string step);

    [LoggerMessage(12, LogLevel.Error, "Publishing the will of {ClientId} failed")]
    public static partial void WillFailed(ILogger logger, Exception exception, string clientId);

    [LoggerMessage(13, LogLevel.Warning, "Client {ClientId} from {RemoteEndPoint} is a slow consumer: its socket took nothing for {Seconds} s while data waited; connection closed")]
    public static partial void SlowConsumer(ILogger logger, string clientId, string? remoteEndPoint, double seconds);

    [LoggerMessage(14, LogLevel.Warning, "Dropped {Count} messages for client {ClientId} since the last report (latest reason: {Reason}); see the drop counters in $SYS and the REST API")]
    public static partial void MessagesDropped(ILogger logger, string clientId, long count, DropReason reason);

    [LoggerMessage(15, LogLevel.Error, "The store at {Location} cannot write: {Reason}. Acknowledgements that need it are withheld and QoS 1/2 publishes that need it (to persistent sessions, or retained) are refused until a restart")]
    public static partial void StoreWriteFailed(ILogger logger, Exception exception, string location, string reason);

    [LoggerMessage(16, LogLevel.Information, "Restored from {Location}: {Sessions} sessions, {Subscriptions} subscriptions, {Deliveries} queued and in-flight messages, {Retained} retained messages ({Expired} sessions expired while the broker was down) in {Milliseconds} ms")]
    public static partial void StoreRestored(ILogger logger, string location, int sessions, int subscriptions, int deliveries, int retained, int expired, long milliseconds);

    [LoggerMessage(17, LogLevel.Information, "Restoring from {Location}: {Done} of {Total} {What}")]
    public static partial void StoreRestoring(ILogger logger, string location, int done, int total, string what);

    [LoggerMessage(19, LogLevel.Warning, "The store holds more retained messages than Broker:MaxRetainedMessages ({Limit}): {Count} were not restored and are deleted (counted as retained_store_full). Raise the limit to keep them")]
    public static partial void RetainedOverLimitAtRestore(ILogger logger, int count, int limit);

    [LoggerMessage(18, LogLevel.Error, "The store at {Location} cannot sync to disk: {Reason}. What was written survives the broker being killed, not yet a loss of power")]
    public static partial void StoreFlushFailed(ILogger logger, Exception exception, string location, string reason);
}
