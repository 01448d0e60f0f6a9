using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Tern.Server.Dashboard;

/// <summary>
/// The dashboard's browser sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure over
/// HTTPS), held in memory only (a restart logs everyone out), each valid for <see cref="Lifetime"/>.
/// A request that changes something with the cookie must repeat the session's CSRF token in the
/// <see cref="CsrfHeader"/> header; the page reads it from the readable <see cref="CsrfCookie"/>.
/// </summary>
internal sealed class DashboardSessions(TimeProvider time)
{
    /// <summary>The cookie that carries the session id; never readable by scripts.</summary>
    public const string SessionCookie = "tern_session";

    /// <summary>The cookie that carries the CSRF token, readable by the page so it can send it back as a header.</summary>
    public const string CsrfCookie = "tern_csrf";

    /// <summary>The header a state-changing request made with the cookie must carry.</summary>
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>How long a session lasts after the login (a working day).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    // Enough for every browser of a team; past it the oldest session goes.
    private const int MaxSessions = 1024;

    // Longer cookies are refused without a look-up: no id is this long.
    private const int MaxIdLength = 64;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// <summary>Opens a session and sets its cookies on the response.</summary>
    public Session Open(HttpContext context, string username)
    {
        var now = time.GetUtcNow();
        if (_sessions.Count >= MaxSessions)
        {
            foreach (var (id, old) in _sessions)
            {
                if (old.Expires <= now)
                {
                    _sessions.TryRemove(id, out _);
                }
            }

            while (_sessions.Count >= MaxSessions && _sessions.MinBy(static s => s.Value.Expires) is { Key: { } oldest })
            {
                _sessions.TryRemove(oldest, out _);
            }
        }

        var session = new Session(NewSecret(), NewSecret(), username, now + Lifetime);
        _sessions[session.Id] = session;
        var secure = context.Request.IsHttps;
        context.Response.Cookies.Append(SessionCookie, session.Id, Options(httpOnly: true, secure, session.Expires));
        context.Response.Cookies.Append(CsrfCookie, session.CsrfToken, Options(httpOnly: false, secure, session.Expires));
        return session;
    }

    /// <summary>Ends the request's session, if any, and clears its cookies.</summary>
    public void Close(HttpContext context)
    {
        if (Find(context) is { } session)
        {
            _sessions.TryRemove(session.Id, out _);
        }

        var secure = context.Request.IsHttps;
        context.Response.Cookies.Delete(SessionCookie, Options(httpOnly: true, secure, expires: null));
        context.Response.Cookies.Delete(CsrfCookie, Options(httpOnly: false, secure, expires: null));
    }

    /// <summary>Ends every session but <paramref name="keep"/> (after a password change: whoever knew the old one is out).</summary>
    public void CloseAllExcept(Session? keep)
    {
        foreach (var id in _sessions.Keys)
        {
            if (id != keep?.Id)
            {
                _sessions.TryRemove(id, out _);
            }
        }
    }

    /// <summary>The valid session the request's cookie names, or null.</summary>
    public Session? Find(HttpContext context)
    {
        var id = context.Request.Cookies[SessionCookie];
        if (id is null || id.Length > MaxIdLength || !_sessions.TryGetValue(id, out var session))
        {
            return null;
        }

        if (session.Expires <= time.GetUtcNow())
        {
            _sessions.TryRemove(id, out _);
            return null;
        }

        return session;
    }

    /// <summary>
    /// Whether a request made with <paramref name="session"/> may go on: reads always; anything else
    /// only with the session's token in <see cref="CsrfHeader"/>, which another site cannot read.
    /// </summary>
    public static bool PassesCsrfCheck(HttpContext context, Session session)
    {
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method))
        {
            return true;
        }

        string? sent = context.Request.Headers[CsrfHeader];
        return sent is not null && sent.Length <= MaxIdLength
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sent), Encoding.ASCII.GetBytes(session.CsrfToken));
    }

    private static CookieOptions Options(bool httpOnly, bool secure, DateTimeOffset? expires) => new()
    {
        HttpOnly = httpOnly,
        Secure = secure,
        SameSite = SameSiteMode.Strict,
        Path = "/",
        Expires = expires,
        IsEssential = true,
    };

    private static string NewSecret()
        => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>One logged-in browser.</summary>
    internal sealed record Session(string Id, string CsrfToken, string Username, DateTimeOffset Expires);
}
