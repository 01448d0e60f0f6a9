using Microsoft.Extensions.Logging;

namespace Tern.Server.Hosting;

/// <summary>Host log messages; event ids 1000-1099 belong to Tern.Server.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Tern {Version} listening on {Urls}")]
    public static partial void Listening(ILogger logger, string version, string urls);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Listeners:Tcp:Port is 0: {Sections} on free ports of the TCP address too (their Port and Address keys choose otherwise)")]
    public static partial void FollowingFreeTcpPort(ILogger logger, string sections);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Stopping: closing client connections")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Store {Directory}: cut off {Bytes} bytes at the end of its newest segment, a write a crash or power loss left incomplete (nothing in it was acknowledged)")]
    public static partial void TornTailCut(ILogger logger, long bytes, string directory);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Configuration reloaded: applied {Applied}; access control {Acl}; users file {Users}; bridges {Bridges}; needs a restart: {Restart}")]
    public static partial void Reloaded(ILogger logger, string applied, string acl, string users, string bridges, string restart);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Configuration not reloaded, the running settings stay: {Reason}")]
    public static partial void ReloadFailed(ILogger logger, string reason);
}
