using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Tern.Broker;

namespace Tern.Server.Dashboard;

/// <summary>
/// The dashboard's login form behind <c>/api/dashboard</c>: <c>POST login</c> opens a cookie session
/// (<see cref="DashboardSessions"/>), <c>GET session</c> says who is logged in, <c>POST logout</c>
/// ends it. Logins are limited per address (<see cref="DashboardSessionLimiter"/>). These paths
/// answer without Basic or bearer credentials; scripts keep using those for the rest of the API.
/// </summary>
internal sealed class DashboardSessionApi(
    BrokerOptions brokerOptions,
    DashboardCredentials credentials,
    DashboardSessions sessions,
    DashboardSessionLimiter limiter,
    ILogger logger)
{
    /// <summary>Where the session endpoints live.</summary>
    public const string Prefix = "/api/dashboard";

    /// <summary>Adds <c>login</c>, <c>session</c> and <c>logout</c> under <see cref="Prefix"/>.</summary>
    public void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(Prefix);
        group.MapPost("/login", (Func<HttpContext, Task<IResult>>)LoginAsync);
        group.MapGet("/session", Current);
        group.MapPost("/logout", Logout);
    }

    /// <summary>
    /// Whether the request's address failed too often and must wait: then <c>Retry-After</c> is set,
    /// the refusal logged, and <paramref name="message"/> says how long. Used for <c>POST /api/v5/login</c> as well.
    /// </summary>
    public bool IsThrottled(HttpContext context, out string message)
    {
        var address = context.Connection.RemoteIpAddress;
        if (!limiter.IsLimited(address, out var retryAfter))
        {
            message = "";
            return false;
        }

        var seconds = (int)retryAfter.TotalSeconds;
        DashboardSessionLog.LoginThrottled(logger, address?.ToString(), seconds, limiter.Refused);
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        message = $"Too many failed logins from this address ({DashboardSessionLimiter.MaxFailures} a minute): try again in {seconds} s.";
        return true;
    }

    /// <summary>Counts a failed <c>POST /api/v5/login</c> (which logs it itself) against its address.</summary>
    public void CountFailure(HttpContext context) => limiter.RecordFailure(context.Connection.RemoteIpAddress);

    private async Task<IResult> LoginAsync(HttpContext context)
    {
        if (IsThrottled(context, out var throttled))
        {
            return ApiProblem.Of(StatusCodes.Status429TooManyRequests, "TOO_MANY_REQUESTS", throttled);
        }

        var (document, failure) = await V5Api.ReadJsonBodyAsync(context, brokerOptions).ConfigureAwait(false);
        if (document is null)
        {
            return V5Api.Error(failure);
        }

        string username;
        string password;
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("username", out var user) || user.ValueKind != JsonValueKind.String)
            {
                return V5Api.BadRequest("username", "username must be a string: the body is {\"username\": \"...\", \"password\": \"...\"}.");
            }

            if (!root.TryGetProperty("password", out var secret) || secret.ValueKind != JsonValueKind.String)
            {
                return V5Api.BadRequest("password", "password must be a string: the body is {\"username\": \"...\", \"password\": \"...\"}.");
            }

            username = user.GetString()!;
            password = secret.GetString()!;
        }

        if (!credentials.Matches(username, password))
        {
            limiter.RecordFailure(context.Connection.RemoteIpAddress);
            DashboardSessionLog.LoginRefused(logger, username, context.Connection.RemoteIpAddress?.ToString());
            return ApiProblem.Of(StatusCodes.Status401Unauthorized, "BAD_USERNAME_OR_PWD", "Wrong user name or password (Dashboard:Username, Dashboard:Password).");
        }

        limiter.Reset(context.Connection.RemoteIpAddress);
        var session = sessions.Open(context, credentials.Username);
        DashboardSessionLog.LoggedIn(logger, session.Username, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.Json(ToResponse(session), SessionJson.Default.SessionResponse);
    }

    private IResult Current(HttpContext context) => sessions.Find(context) is { } session
        ? TypedResults.Json(ToResponse(session), SessionJson.Default.SessionResponse)
        : ApiProblem.Of(StatusCodes.Status401Unauthorized, "NOT_LOGGED_IN", "Not logged in, or the session has ended: log in again.");

    private IResult Logout(HttpContext context)
    {
        // Without the token, another site could log a user out by posting here.
        if (sessions.Find(context) is { } session && !DashboardSessions.PassesCsrfCheck(context, session))
        {
            return ApiProblem.Of(StatusCodes.Status403Forbidden, "BAD_CSRF_TOKEN", $"The {DashboardSessions.CsrfHeader} header is missing or wrong: reload the page.");
        }

        sessions.Close(context);
        return TypedResults.NoContent();
    }

    private SessionResponse ToResponse(DashboardSessions.Session session)
        => new(session.Username, session.CsrfToken, session.Expires, credentials.UsesDefaultPassword);
}

/// <summary><c>POST /api/dashboard/login</c> and <c>GET /api/dashboard/session</c>.</summary>
/// <param name="Username">The dashboard user.</param>
/// <param name="CsrfToken">What to send in <c>X-CSRF-Token</c> with every request that changes something.</param>
/// <param name="Expires">When the session ends.</param>
/// <param name="DefaultPassword">Whether the password is still the default one.</param>
internal sealed record SessionResponse(string Username, string CsrfToken, DateTimeOffset Expires, bool DefaultPassword);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SessionResponse))]
internal sealed partial class SessionJson : JsonSerializerContext;
