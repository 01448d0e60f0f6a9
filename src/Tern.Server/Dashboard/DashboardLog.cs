using Microsoft.Extensions.Logging;

namespace Tern.Server.Dashboard;

/// <summary>Dashboard and REST API log messages; event ids 1100-1149.</summary>
internal static partial class DashboardLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Dashboard and REST API on {Url} (user {Username})")]
    public static partial void Listening(ILogger logger, string url, string username);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning,
        Message = "The dashboard and REST API accept the default password '" + DashboardOptions.DefaultPassword + "' for user {Username}: anyone who can reach {Url} can manage this broker. Change it in the dashboard's Settings page (or POST /api/v5/users/.../change_pwd), or set Dashboard:Password (e.g. TERN_Dashboard__Password=...).")]
    public static partial void DefaultPassword(ILogger logger, string username, string url);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "REST API request without valid credentials from {Remote}: {Method} {Path}")]
    public static partial void Unauthorized(ILogger logger, string? remote, string method, string path);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Client {ClientId} disconnected through the REST API (from {Remote})")]
    public static partial void Kicked(ILogger logger, string clientId, string? remote);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Session of client {ClientId} discarded through the REST API (from {Remote})")]
    public static partial void SessionDiscarded(ILogger logger, string clientId, string? remote);
}
