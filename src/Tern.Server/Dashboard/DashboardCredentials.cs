using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Server.Dashboard;

/// <summary>Checks an HTTP Basic <c>Authorization</c> header against the dashboard's one user.</summary>
internal sealed class DashboardCredentials
{
    // Longer headers are refused without decoding: no real credential is this long.
    private const int MaxHeaderLength = 4096;

    // The hash of "user:password": comparing hashes in fixed time reveals neither the
    // password's length nor how much of a guess was right.
    private readonly byte[] _expected;

    public DashboardCredentials(string username, string password)
    {
        Username = username;
        _expected = SHA256.HashData(Encoding.UTF8.GetBytes($"{username}:{password}"));
    }

    public string Username { get; }

    /// <summary>Whether a user name and password (a login form, <c>POST /api/v5/login</c>) are the dashboard's.</summary>
    public bool Matches(string username, string password)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{username}:{password}"), hash);
        return CryptographicOperations.FixedTimeEquals(hash, _expected);
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
            if (!Convert.TryFromBase64Chars(encoded, buffer, out var length))
            {
                return false;
            }

            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer.AsSpan(0, length), hash);
            return CryptographicOperations.FixedTimeEquals(hash, _expected);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }
}
