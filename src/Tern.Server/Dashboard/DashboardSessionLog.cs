using Microsoft.Extensions.Logging;

namespace Tern.Server.Dashboard;

/// <summary>Log messages of the dashboard's login; event ids 1140-1149.</summary>
internal static partial class DashboardSessionLog
{
    [LoggerMessage(EventId = 1140, Level = LogLevel.Information, Message = "Dashboard login of {Username} from {Remote}")]
    public static partial void LoggedIn(ILogger logger, string username, string? remote);

    [LoggerMessage(EventId = 1141, Level = LogLevel.Warning, Message = "Dashboard login refused for user '{Username}' from {Remote}: wrong user name or password")]
    public static partial void LoginRefused(ILogger logger, string username, string? remote);

    [LoggerMessage(EventId = 1142, Level = LogLevel.Warning, Message = "Dashboard login from {Remote} refused for {Seconds} s after too many failures ({Refused} such refusals since start)")]
    public static partial void LoginThrottled(ILogger logger, string? remote, int seconds, long refused);

    [LoggerMessage(EventId = 1143, Level = LogLevel.Debug, Message = "Dashboard request without a valid CSRF token from {Remote}: {Method} {Path}")]
    public static partial void CsrfRefused(ILogger logger, string? remote, string method, string path);
}
