using System.Security.Cryptography;
using System.Text;

namespace Tern.Broker;

/// <summary>
/// What the server keeps for one SCRAM-SHA-256 user (RFC 5802 section 3): the salt, the iteration count,
/// <c>StoredKey = H(ClientKey)</c> and <c>ServerKey</c>. The password itself is not kept, and neither
/// key lets anyone log in as the user.
/// </summary>
/// <param name="Salt">The PBKDF2 salt sent to the client in server-first-message.</param>
/// <param name="Iterations">The PBKDF2 iteration count sent to the client.</param>
/// <param name="StoredKey">SHA-256 of the client key (32 bytes).</param>
/// <param name="ServerKey">HMAC-SHA-256 of "Server Key" under the salted password (32 bytes).</param>
public sealed record ScramCredential(byte[] Salt, int Iterations, byte[] StoredKey, byte[] ServerKey)
{
    /// <summary>RFC 7677 section 4: at least 4096 iterations.</summary>
    public const int DefaultIterations = 4096;

    /// <summary>Length of a random salt made by <see cref="FromPassword"/>.</summary>
    public const int DefaultSaltLength = 16;

    /// <summary>The length of StoredKey and ServerKey: one SHA-256 output.</summary>
    public const int KeyLength = 32;

    /// <summary>
    /// Derives the credential from a password: <c>SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)</c>,
    /// then StoredKey and ServerKey. The password is used as its UTF-8 bytes without SASLprep (RFC 4013), so
    /// passwords outside printable ASCII must be written in the same normalization form by clients.
    /// </summary>
    /// <param name="password">The user's password.</param>
    /// <param name="salt">The salt; a random 16-byte salt when null.</param>
    /// <param name="iterations">The PBKDF2 iteration count (1 or more; RFC 7677 asks for at least 4096).</param>
    public static ScramCredential FromPassword(string password, byte[]? salt = null, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        if (salt is { Length: 0 })
        {
            throw new ArgumentException("The salt must not be empty.", nameof(salt));
        }

        salt ??= RandomNumberGenerator.GetBytes(DefaultSaltLength);
        var saltedPassword = ScramMath.SaltedPassword(password, salt, iterations);
        try
        {
            var clientKey = ScramMath.Hmac(saltedPassword, ScramMath.ClientKeyLabel);
            var storedKey = SHA256.HashData(clientKey);
            var serverKey = ScramMath.Hmac(saltedPassword, ScramMath.ServerKeyLabel);
            CryptographicOperations.ZeroMemory(clientKey);
            return new ScramCredential((byte[])salt.Clone(), iterations, storedKey, serverKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(saltedPassword);
        }
    }

    /// <summary>Checks the shape; the authenticator relies on the key lengths when it verifies a proof.</summary>
    internal void Validate()
    {
        if (Salt is null || Salt.Length == 0)
        {
            throw new ArgumentException("A SCRAM credential needs a non-empty salt.", nameof(Salt));
        }

        if (Iterations < 1)
        {
            throw new ArgumentException("A SCRAM credential needs an iteration count of 1 or more.", nameof(Iterations));
        }

        if (StoredKey is null || StoredKey.Length != KeyLength || ServerKey is null || ServerKey.Length != KeyLength)
        {
            throw new ArgumentException($"StoredKey and ServerKey must be {KeyLength} bytes (SHA-256).", nameof(StoredKey));
        }
    }
}

/// <summary>The RFC 5802 primitives with SHA-256, shared by credential creation and proof checking.</summary>
internal static class ScramMath
{
    public static readonly byte[] ClientKeyLabel = "Client Key"u8.ToArray();
    public static readonly byte[] ServerKeyLabel = "Server Key"u8.ToArray();

    public static byte[] SaltedPassword(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, ScramCredential.KeyLength);

    public static byte[] Hmac(byte[] key, byte[] data) => HMACSHA256.HashData(key, data);

    public static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));
}
