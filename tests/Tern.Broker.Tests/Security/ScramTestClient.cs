using System.Security.Cryptography;
using System.Text;

namespace Tern.Broker.Tests.Security;

/// <summary>
/// The client side of SCRAM-SHA-256 (RFC 5802), written from the RFC rather than reusing the broker's code,
/// so the tests check the broker against an independent implementation.
/// </summary>
internal sealed class ScramTestClient
{
    private readonly string _username;
    private readonly string _password;
    private readonly string _gs2Header;
    private byte[]? _expectedServerSignature;

    public ScramTestClient(string username, string password, string? clientNonce = null, string gs2Header = "n,,")
    {
        _username = username;
        _password = password;
        _gs2Header = gs2Header;
        ClientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    }

    public string ClientNonce { get; }

    /// <summary>The server's salt and iteration count as read from server-first-message.</summary>
    public (byte[] Salt, int Iterations)? ServerParameters { get; private set; }

    public string ClientFirstBare => $"n={Escape(_username)},r={ClientNonce}";

    public string ClientFirstText => _gs2Header + ClientFirstBare;

    public byte[] ClientFirst() => Encoding.UTF8.GetBytes(ClientFirstText);

    /// <summary>RFC 5802 saslname escaping.</summary>
    public static string Escape(string username) => username.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    /// <summary>Answers server-first-message with client-final-message (and remembers the server signature to expect).</summary>
    public string ClientFinalText(ReadOnlySpan<byte> serverFirstData)
    {
        var serverFirst = Encoding.UTF8.GetString(serverFirstData);
        var parts = serverFirst.Split(',');
        Assert.True(parts.Length == 3, $"server-first-message must be r=,s=,i=: '{serverFirst}'");
        Assert.StartsWith("r=", parts[0], StringComparison.Ordinal);
        Assert.StartsWith("s=", parts[1], StringComparison.Ordinal);
        Assert.StartsWith("i=", parts[2], StringComparison.Ordinal);
        var nonce = parts[0][2..];
        Assert.True(nonce.StartsWith(ClientNonce, StringComparison.Ordinal) && nonce.Length > ClientNonce.Length, $"server nonce must extend the client nonce: '{serverFirst}'");
        var salt = Convert.FromBase64String(parts[1][2..]);
        var iterations = int.Parse(parts[2][2..], System.Globalization.CultureInfo.InvariantCulture);
        ServerParameters = (salt, iterations);

        var withoutProof = $"c={Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header))},r={nonce}";
        var authMessage = Encoding.UTF8.GetBytes($"{ClientFirstBare},{serverFirst},{withoutProof}");
        var saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(_password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(saltedPassword, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var clientSignature = HMACSHA256.HashData(storedKey, authMessage);
        var proof = new byte[clientKey.Length];
        for (var i = 0; i < proof.Length; i++)
        {
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        var serverKey = HMACSHA256.HashData(saltedPassword, "Server Key"u8);
        _expectedServerSignature = HMACSHA256.HashData(serverKey, authMessage);
        return $"{withoutProof},p={Convert.ToBase64String(proof)}";
    }

    public byte[] ClientFinal(ReadOnlySpan<byte> serverFirstData) => Encoding.UTF8.GetBytes(ClientFinalText(serverFirstData));

    /// <summary>True when server-final-message proves the server knows the user's ServerKey.</summary>
    public bool VerifyServerFinal(ReadOnlySpan<byte> serverFinalData)
    {
        Assert.NotNull(_expectedServerSignature);
        var text = Encoding.UTF8.GetString(serverFinalData);
        if (!text.StartsWith("v=", StringComparison.Ordinal))
        {
            return false;
        }

        var signature = Convert.FromBase64String(text[2..]);
        return CryptographicOperations.FixedTimeEquals(signature, _expectedServerSignature);
    }
}
