using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    /// <summary>The path that answers without credentials.</summary>
    public const string LoginPath = Prefix + "/login";

    /// <summary>
    /// <c>POST /api/v5/login</c> with <c>{"username", "password"}</c> (the dashboard's): a token to send
    /// as <c>Authorization: Bearer</c>, as EMQX's scripts do. A wrong pair is 401 <c>BAD_USERNAME_OR_PWD</c>.
    /// </summary>
    private async Task<IResult> LoginAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return BadRequest("body", "The request body must be a JSON object such as {\"username\": \"admin\", \"password\": \"...\"}.");
            }

            if (!root.TryGetProperty("username", out var username) || username.ValueKind != JsonValueKind.String)
            {
                return BadRequest("username", "username is required: the dashboard's user (Dashboard:Username).");
            }

            if (!root.TryGetProperty("password", out var password) || password.ValueKind != JsonValueKind.String)
            {
                return BadRequest("password", "password is required: the dashboard's password (Dashboard:Password).");
            }

            if (!credentials.Matches(username.GetString()!, password.GetString()!))
            {
                V5Log.LoginRefused(logger, username.GetString()!, context.Connection.RemoteIpAddress?.ToString());
                return Error(StatusCodes.Status401Unauthorized, "BAD_USERNAME_OR_PWD", "Auth failed: wrong username or password (Dashboard:Username, Dashboard:Password).");
            }

            return Ok(new V5LoginResponse(tokens.Issue(), broker.GetSnapshot().Version), Json.V5LoginResponse);
        }
    }
}
