using Microsoft.Extensions.Logging;

namespace Tern.Server.Hosting;

/// <summary>Host log messages; event ids 1000-1099 belong to Tern.Server.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Listening on {Url} ({Listener})")]
    public static partial void Listening(ILogger logger, string url, string listener);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Stopping: closing client connections")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Stopped")]
    public static partial void Stopped(ILogger logger);
}
