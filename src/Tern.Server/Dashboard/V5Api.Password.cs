using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    /// <summary>Shortest new dashboard password (EMQX's rule: 8 to 64 characters of two kinds at least).</summary>
    public const int MinPasswordLength = 8;

    /// <summary>Longest new dashboard password.</summary>
    public const int MaxPasswordLength = 64;

    private static readonly string[] ChangePasswordFields = ["old_pwd", "new_pwd"];

    /// <summary>The per-address limit on failed logins, which wrong old passwords count against too.</summary>
    public DashboardSessionApi? LoginLimit { get; init; }

    private void MapDashboardUsers(RouteGroupBuilder api)
        => api.MapPost("/users/{username}/change_pwd", (Func<HttpContext, Task<IResult>>)ChangePasswordAsync).WithTags("Dashboard users");

    /// <summary>
    /// <c>POST /api/v5/users/{username}/change_pwd</c> with <c>{"old_pwd", "new_pwd"}</c>, EMQX's: 204, then only the
    /// new password opens the dashboard and the API. As in EMQX, every bearer token ends; so does every
    /// dashboard session but the one that asked. API keys stay valid: they do not depend on the password.
    /// </summary>
    private async Task<IResult> ChangePasswordAsync(HttpContext context)
    {
        var username = context.Request.RouteValues["username"] as string ?? "";
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        string oldPassword, newPassword;
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return BadRequest("body", "The request body must be a JSON object such as {\"old_pwd\": \"public\", \"new_pwd\": \"...\"}.");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (Array.IndexOf(ChangePasswordFields, property.Name) < 0)
                {
                    return BadRequest(property.Name, $"Unknown field '{property.Name}'; the fields are old_pwd and new_pwd.");
                }
            }

            oldPassword = root.TryGetProperty("old_pwd", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString()! : "";
            newPassword = root.TryGetProperty("new_pwd", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
        }

        if (username != credentials.Username)
        {
            return Error(StatusCodes.Status404NotFound, "USER_NOT_FOUND", $"username: no dashboard user '{username}'; the dashboard's user is Dashboard:Username.");
        }

        if (oldPassword.Length == 0)
        {
            return BadRequest("old_pwd", "old_pwd is required: the current password, as a string.");
        }

        if (newPassword.Length == 0)
        {
            return BadRequest("new_pwd", "new_pwd is required: the new password, as a string.");
        }

        // A guess at the current password counts against the address as a failed login does.
        if (LoginLimit is { } limit && limit.IsThrottled(context, out var throttled))
        {
            return Error(StatusCodes.Status429TooManyRequests, "TOO_MANY_REQUESTS", throttled);
        }

        if (!credentials.Matches(username, oldPassword))
        {
            LoginLimit?.CountFailure(context);
            V5Log.PasswordChangeRefused(logger, username, context.Connection.RemoteIpAddress?.ToString());
            return BadRequest("old_pwd", "old_pwd: this is not the current password.", "ERROR_PWD_NOT_MATCH");
        }

        if (WeakPassword(newPassword, oldPassword) is { } weak)
        {
            return BadRequest("new_pwd", $"new_pwd: {weak}");
        }

        management.PasswordFile.Save(username, newPassword, DateTimeOffset.UtcNow);
        credentials.Change(newPassword);
        tokens.RevokeAll();
        management.Sessions.CloseAllExcept(management.Sessions.Find(context));
        V5Log.PasswordChanged(logger, username, management.PasswordFile.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary>Why <paramref name="password"/> may not be the new password, or null.</summary>
    private static string? WeakPassword(string password, string old)
    {
        if (password.Length is < MinPasswordLength or > MaxPasswordLength)
        {
            return $"the new password must be {MinPasswordLength} to {MaxPasswordLength} characters long, not {password.Length}.";
        }

        var letters = password.Any(char.IsLetter) ? 1 : 0;
        var digits = password.Any(char.IsDigit) ? 1 : 0;
        var others = password.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0;
        if (letters + digits + others < 2)
        {
            return "the new password must mix at least two of letters, digits and other characters.";
        }

        return password == old ? "the new password is the current one; choose another." : null;
    }
}

/// <summary>Dashboard password log messages (event ids 1105-1107).</summary>
internal static partial class V5Log
{
    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Dashboard password of {Username} changed through the REST API, saved to {Path}; bearer tokens and other dashboard sessions ended (from {Remote})")]
    public static partial void PasswordChanged(ILogger logger, string username, string path, string? remote);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Dashboard password change of {Username} refused: wrong old password (from {Remote})")]
    public static partial void PasswordChangeRefused(ILogger logger, string username, string? remote);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "{Path} holds a dashboard password for user {StoredUser}, not for {Username} (Dashboard:Username): it is ignored and Dashboard:Password applies. Delete the file, or change the password again.")]
    public static partial void PasswordFileOfOtherUser(ILogger logger, string path, string storedUser, string username);
}
