using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

/// <summary>
/// Checks the dashboard's one user (the login form, <c>POST /api/v5/login</c>, HTTP Basic). The
/// password is <c>Dashboard:Password</c>, or the one set through the API (<see cref="DashboardPasswordFile"/>),
/// which replaces it at once with <see cref="Change"/>.
/// </summary>
internal sealed class DashboardCredentials
{
    // Longer headers are refused without decoding: no real credential is this long.
    private const int MaxHeaderLength = 4096;

    // A stored PBKDF2 hash is checked one request at a time: before the first right password, every
    // wrong guess costs a slow hash, and guesses in parallel must not take every core.
    private readonly Lock _slowCheck = new();
    private volatile Secret _secret;

    public DashboardCredentials(string username, string password)
    {
        Username = username;
        _secret = FromPassword(username, password);
    }

    public string Username { get; }

    /// <summary>Whether the password is still <see cref="DashboardOptions.DefaultPassword"/>: the page shows a banner.</summary>
    public bool UsesDefaultPassword => _secret.IsDefault;

    /// <summary>Uses a PBKDF2 hash (<see cref="UsersPasswordHash"/>) kept from an earlier change instead of the configured password.</summary>
    public void UseHash(string hash) => _secret = new Secret(null, hash, IsDefault: false);

    /// <summary>Makes <paramref name="password"/> the only one accepted from now on.</summary>
    public void Change(string password) => _secret = FromPassword(Username, password);

    /// <summary>Whether a user name and password (a login form, <c>POST /api/v5/login</c>) are the dashboard's.</summary>
    public bool Matches(string username, string password)
    {
        var pair = Encoding.UTF8.GetBytes($"{username}:{password}");
        try
        {
            return Check(pair);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pair);
        }
    }

    public bool IsAuthorized(string? authorization)
    {
        const string Scheme = "Basic ";
        if (authorization is null || authorization.Length > MaxHeaderLength
            || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var encoded = authorization.AsSpan(Scheme.Length).Trim();
        var buffer = ArrayPool<byte>.Shared.Rent(encoded.Length);
        try
        {
            return Convert.TryFromBase64Chars(encoded, buffer, out var length) && Check(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    // The hash of "user:password": comparing hashes in fixed time reveals neither the password's
    // length nor how much of a guess was right.
    private static Secret FromPassword(string username, string password)
        => new(SHA256.HashData(Encoding.UTF8.GetBytes($"{username}:{password}")), null, string.Equals(password, DashboardOptions.DefaultPassword, StringComparison.Ordinal));

    private bool Check(ReadOnlySpan<byte> pair)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(pair, digest);
        var secret = _secret;
        if (secret.Digest is { } known)
        {
            return CryptographicOperations.FixedTimeEquals(digest, known);
        }

        var colon = pair.IndexOf((byte)':');
        if (colon < 0 || !pair[..colon].SequenceEqual(Encoding.UTF8.GetBytes(Username)))
        {
            return false;
        }

        lock (_slowCheck)
        {
            // Another request may have verified the password meanwhile.
            if (_secret != secret)
            {
                return _secret.Digest is { } now && CryptographicOperations.FixedTimeEquals(digest, now);
            }

            if (!UsersPasswordHash.Verify(pair[(colon + 1)..], secret.Hash!))
            {
                return false;
            }

            // Verified once: from now on a request costs one SHA-256, as with a configured password.
            _secret = secret with { Digest = digest.ToArray() };
            return true;
        }
    }

    /// <summary>What a password is checked against: the SHA-256 of <c>user:password</c>, or only a stored PBKDF2 hash until it is verified.</summary>
    private sealed record Secret(byte[]? Digest, string? Hash, bool IsDefault);
}
