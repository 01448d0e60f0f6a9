using Microsoft.Extensions.Logging;

namespace Tern.Server.Dashboard;

/// <summary>Log messages of <c>/api/v5</c>; event ids 1120-1129 (within the dashboard's 1100-1149).</summary>
internal static partial class V5Log
{
    [LoggerMessage(EventId = 1120, Level = LogLevel.Information, Message = "Retained message of topic {Topic} deleted through the REST API (from {Remote})")]
    public static partial void RetainedDeleted(ILogger logger, string topic, string? remote);

    [LoggerMessage(EventId = 1121, Level = LogLevel.Information, Message = "Ban added through the REST API: {As} {Who} until {Until} (from {Remote})")]
    public static partial void Banned(ILogger logger, string @as, string who, string until, string? remote);

    [LoggerMessage(EventId = 1122, Level = LogLevel.Information, Message = "Ban removed through the REST API: {As} {Who} (from {Remote})")]
    public static partial void Unbanned(ILogger logger, string @as, string who, string? remote);

    [LoggerMessage(EventId = 1123, Level = LogLevel.Warning, Message = "REST API login refused for user {Username} from {Remote}")]
    public static partial void LoginRefused(ILogger logger, string username, string? remote);

    [LoggerMessage(EventId = 1124, Level = LogLevel.Information, Message = "API key {Name} created through the REST API (from {Remote})")]
    public static partial void ApiKeyCreated(ILogger logger, string name, string? remote);

    [LoggerMessage(EventId = 1125, Level = LogLevel.Information, Message = "API key {Name} deleted through the REST API (from {Remote})")]
    public static partial void ApiKeyDeleted(ILogger logger, string name, string? remote);

    [LoggerMessage(EventId = 1126, Level = LogLevel.Information, Message = "User {UserId} {Change} through the REST API in {Path} (from {Remote})")]
    public static partial void UserChanged(ILogger logger, string userId, string change, string path, string? remote);

    [LoggerMessage(EventId = 1127, Level = LogLevel.Information, Message = "Built-in ACL rules changed through the REST API ({What}), saved to {Path} (from {Remote})")]
    public static partial void AclChanged(ILogger logger, string what, string path, string? remote);

    [LoggerMessage(EventId = 1128, Level = LogLevel.Error, Message = "REST API request {Method} {Path} failed on a file: {Reason}")]
    public static partial void FileFailed(ILogger logger, string method, string path, string reason);
}
