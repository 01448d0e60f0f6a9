using Microsoft.Extensions.Logging;

namespace Tern.Server.Security;

/// <summary>ACL log messages; event ids 1160-1169 (inside Tern.Server's 1000-1199).</summary>
internal static partial class AclLog
{
    [LoggerMessage(EventId = 1160, Level = LogLevel.Information, Message = "Access control: {Count} rules ({Source}), default {Default}")]
    public static partial void Loaded(ILogger logger, int count, string source, string @default);

    [LoggerMessage(EventId = 1161, Level = LogLevel.Information, Message = "Access control reloaded from {Path}: {Count} rules, default {Default}")]
    public static partial void Reloaded(ILogger logger, string path, int count, string @default);

    [LoggerMessage(EventId = 1162, Level = LogLevel.Error, Message = "{Message} The previous access rules stay in force.")]
    public static partial void ReloadFailed(ILogger logger, string message);
}
