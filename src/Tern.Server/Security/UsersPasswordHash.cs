using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Server.Security;

/// <summary>
/// Password hashes of the user store: PBKDF2-HMAC-SHA-256 with a random 16-byte salt, written as
/// <c>$pbkdf2-sha256$i=210000$&lt;salt&gt;$&lt;hash&gt;</c> (standard base64, 32-byte hash). The iteration
/// count travels with each hash, so it can be raised for new passwords without breaking old ones.
/// </summary>
public static class UsersPasswordHash
{
    /// <summary>Iterations of a new hash. A verification costs about this many HMACs (roughly 0.1-0.2 s on one core).</summary>
    public const int DefaultIterations = 210_000;

    /// <summary>Fewest iterations accepted in a hash: anything lower is not a slow hash any more.</summary>
    public const int MinIterations = 1_000;

    /// <summary>Most iterations accepted, so that a hand-edited file cannot make one CONNECT take minutes.</summary>
    public const int MaxIterations = 10_000_000;

    public const int SaltLength = 16;

    public const int HashLength = 32;

    private const string Prefix = "$pbkdf2-sha256$";

    /// <summary>Hashes <paramref name="password"/> (its UTF-8 bytes) with a new random salt.</summary>
    public static string Hash(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, MinIterations);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxIterations);
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        var hash = Derive(Encoding.UTF8.GetBytes(password), salt, iterations);
        return Format(iterations, salt, hash);
    }

    /// <summary>Checks a hash string's shape without verifying anything.</summary>
    public static bool IsValid(string? hash) => TryParse(hash, out _, out _, out _);

    /// <summary>The iteration count of a well-formed hash.</summary>
    public static bool TryGetIterations(string? hash, out int iterations) => TryParse(hash, out iterations, out _, out _);

    /// <summary>
    /// True when <paramref name="password"/> matches <paramref name="hash"/>. The comparison is constant-time;
    /// a malformed hash never matches.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> password, string hash)
    {
        if (!TryParse(hash, out var iterations, out var salt, out var expected))
        {
            return false;
        }

        var actual = Derive(password, salt, iterations);
        var equal = CryptographicOperations.FixedTimeEquals(actual, expected);
        CryptographicOperations.ZeroMemory(actual);
        return equal;
    }

    public static bool Verify(string password, string hash) => Verify(Encoding.UTF8.GetBytes(password), hash);

    internal static string Format(int iterations, byte[] salt, byte[] hash) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}i={iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");

    private static byte[] Derive(ReadOnlySpan<byte> password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, HashLength);

    private static bool TryParse(string? text, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = [];
        hash = [];
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        // i=N$salt$hash
        var parts = text[Prefix.Length..].Split('$');
        if (parts.Length != 3
            || !parts[0].StartsWith("i=", StringComparison.Ordinal)
            || !int.TryParse(parts[0].AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out iterations)
            || iterations is < MinIterations or > MaxIterations)
        {
            return false;
        }

        try
        {
            salt = Convert.FromBase64String(parts[1]);
            hash = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            return false;
        }

        return salt.Length >= 8 && hash.Length == HashLength;
    }
}
