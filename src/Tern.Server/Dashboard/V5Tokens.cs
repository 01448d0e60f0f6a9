using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Tern.Server.Dashboard;

/// <summary>
/// The bearer tokens <c>POST /api/v5/login</c> hands out, as EMQX does: random, held in memory
/// only (a restart logs everyone out), each valid for <see cref="Lifetime"/>.
/// </summary>
internal sealed class V5Tokens(TimeProvider time)
{
    /// <summary>How long a token is valid: EMQX's default (<c>dashboard.token_expired_time</c>).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(60);

    // Enough for every script and browser of a team; past it the oldest token goes.
    private const int MaxTokens = 1024;

    // Longer headers are refused without a look-up: no token is this long.
    private const int MaxTokenLength = 256;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);

    /// <summary>A new token, valid for <see cref="Lifetime"/>.</summary>
    public string Issue()
    {
        var now = time.GetUtcNow();
        if (_tokens.Count >= MaxTokens)
        {
            foreach (var (token, expires) in _tokens)
            {
                if (expires <= now)
                {
                    _tokens.TryRemove(token, out _);
                }
            }

            while (_tokens.Count >= MaxTokens && _tokens.MinBy(static t => t.Value) is { Key: { } oldest })
            {
                _tokens.TryRemove(oldest, out _);
            }
        }

        var issued = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _tokens[issued] = now + Lifetime;
        return issued;
    }

    /// <summary>Ends every token, as EMQX does when the password changes.</summary>
    public void RevokeAll() => _tokens.Clear();

    /// <summary>Whether an <c>Authorization: Bearer</c> header carries a token that is still valid.</summary>
    public bool IsAuthorized(string? authorization)
    {
        const string Scheme = "Bearer ";
        if (authorization is null || authorization.Length > Scheme.Length + MaxTokenLength
            || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var token = authorization[Scheme.Length..].Trim();
        if (!_tokens.TryGetValue(token, out var expires))
        {
            return false;
        }

        if (expires <= time.GetUtcNow())
        {
            _tokens.TryRemove(token, out _);
            return false;
        }

        return true;
    }
}
