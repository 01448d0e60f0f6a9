using System.Security.Cryptography;
using System.Text;

namespace Tern.Broker;

/// <summary>
/// MQTT 5 enhanced authentication with SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding.
/// CONNECT carries client-first-message, AUTH 0x18 carries server-first-message, the client's AUTH 0x18
/// carries client-final-message, and CONNACK (or AUTH 0x00 on re-authentication) carries server-final-message.
/// </summary>
/// <remarks>
/// A user the store does not know gets a server-first-message of the same shape as a known user, with a
/// salt derived from the user name, and fails at the proof like a wrong password: the answer does not tell
/// whether the user exists. User names and passwords are compared as given (no SASLprep).
/// </remarks>
public sealed class ScramSha256Authenticator : IEnhancedAuthenticator
{
    /// <summary>The MQTT authentication method name.</summary>
    public const string MethodName = "SCRAM-SHA-256";

    /// <summary>Largest client message accepted; real ones are well under 1 KiB, this bounds hashing work.</summary>
    internal const int MaxMessageLength = 8 * 1024;

    /// <summary>The reason for every proof failure, so wrong passwords and unknown users read the same.</summary>
    internal const string InvalidProofReason = "SCRAM: invalid proof";

    private const int ServerNonceBytes = 18;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly IScramCredentialStore _store;
    private readonly Func<string> _serverNonce;
    private readonly byte[] _unknownUserKey;

    /// <summary>Creates the authenticator.</summary>
    /// <param name="store">Where credentials come from.</param>
    /// <param name="unknownUserKey">
    /// Secret for the fake salts of unknown users. Give the same value to every server (and across restarts)
    /// so a name's fake salt never changes, which would otherwise show that the name is unknown.
    /// A random key is used when null.
    /// </param>
    public ScramSha256Authenticator(IScramCredentialStore store, byte[]? unknownUserKey = null)
        : this(store, serverNonce: null, unknownUserKey)
    {
    }

    /// <summary>Test seam: <paramref name="serverNonce"/> replaces the random server nonce (RFC test vectors).</summary>
    internal ScramSha256Authenticator(IScramCredentialStore store, Func<string>? serverNonce, byte[]? unknownUserKey)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (unknownUserKey is { Length: 0 })
        {
            throw new ArgumentException("The unknown-user key must not be empty.", nameof(unknownUserKey));
        }

        _store = store;
        _serverNonce = serverNonce ?? NewServerNonce;
        _unknownUserKey = unknownUserKey is null ? RandomNumberGenerator.GetBytes(32) : (byte[])unknownUserKey.Clone();
    }

    public string Method => MethodName;

    public IEnhancedAuthExchange Begin(EnhancedAuthContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new Exchange(this, context);
    }

    /// <summary>Base64 of random bytes: printable and free of ',' as RFC 5802 requires of a nonce.</summary>
    private static string NewServerNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(ServerNonceBytes));

    /// <summary>
    /// A stand-in credential for a user the store does not know: deterministic per name (so asking twice gives
    /// the same salt, as for a real user) and unpredictable without the key (so the salt cannot be recognized
    /// as fake). Its keys match no password anyone knows; the exchange also refuses it explicitly.
    /// </summary>
    private ScramCredential UnknownUserCredential(string username)
    {
        var salt = ScramMath.Hmac(_unknownUserKey, "salt\0" + username).AsSpan(0, ScramCredential.DefaultSaltLength).ToArray();
        return new ScramCredential(
            salt,
            ScramCredential.DefaultIterations,
            ScramMath.Hmac(_unknownUserKey, "stored\0" + username),
            ScramMath.Hmac(_unknownUserKey, "server\0" + username));
    }

    /// <summary>One SCRAM conversation: client-first, then client-final, then nothing.</summary>
    private sealed class Exchange(ScramSha256Authenticator owner, EnhancedAuthContext context) : IEnhancedAuthExchange
    {
        private State _state = State.ExpectClientFirst;
        private string _gs2Header = "";
        private string _clientFirstBare = "";
        private string _serverFirst = "";
        private string _nonce = "";
        private string _username = "";
        private ScramCredential? _credential;
        private bool _knownUser;

        private enum State
        {
            ExpectClientFirst,
            ExpectClientFinal,
            Finished,
        }

        public ValueTask<AuthStep> StepAsync(ReadOnlyMemory<byte> clientData, CancellationToken cancellationToken)
        {
            var state = _state;

            // Whatever happens, this message is consumed; only a successful client-first moves on to client-final.
            _state = State.Finished;
            var step = state switch
            {
                State.ExpectClientFirst => ClientFirst(clientData.Span),
                State.ExpectClientFinal => ClientFinal(clientData.Span),
                _ => AuthStep.Failed("SCRAM: the exchange is already finished"),
            };
            return ValueTask.FromResult(step);
        }

        private AuthStep ClientFirst(ReadOnlySpan<byte> data)
        {
            if (!TryDecode(data, "client-first-message", out var text, out var error))
            {
                return AuthStep.Failed(error);
            }

            // gs2-header = gs2-cbind-flag "," [authzid] ","
            var flagEnd = text.IndexOf(',', StringComparison.Ordinal);
            if (flagEnd < 0)
            {
                return Malformed("client-first-message", "no GS2 header");
            }

            var flag = text[..flagEnd];
            if (flag.StartsWith("p=", StringComparison.Ordinal))
            {
                // The client wants channel binding (SCRAM-SHA-256-PLUS); MQTT over this listener offers none.
                return AuthStep.Failed("SCRAM: channel binding is not supported");
            }

            // "y" means the client could bind but believes the server cannot, which is true here (RFC 5802 section 6).
            if (flag is not ("n" or "y"))
            {
                return Malformed("client-first-message", "unknown GS2 channel binding flag");
            }

            var authzidEnd = text.IndexOf(',', flagEnd + 1);
            if (authzidEnd < 0)
            {
                return Malformed("client-first-message", "incomplete GS2 header");
            }

            if (authzidEnd != flagEnd + 1)
            {
                return AuthStep.Failed("SCRAM: an authorization identity (a=) is not supported");
            }

            _gs2Header = text[..(authzidEnd + 1)];
            _clientFirstBare = text[(authzidEnd + 1)..];
            var attributes = _clientFirstBare.Split(',');
            if (attributes[0].StartsWith("m=", StringComparison.Ordinal))
            {
                return AuthStep.Failed("SCRAM: mandatory extensions (m=) are not supported");
            }

            if (attributes.Length < 2 || !attributes[0].StartsWith("n=", StringComparison.Ordinal) || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
            {
                return Malformed("client-first-message", "expected n=username,r=nonce");
            }

            if (!TryUnescapeUsername(attributes[0].AsSpan(2), out _username))
            {
                return Malformed("client-first-message", "invalid user name");
            }

            var clientNonce = attributes[1][2..];
            if (!IsValidNonce(clientNonce))
            {
                return Malformed("client-first-message", "invalid client nonce");
            }

            if (!AreExtensions(attributes.AsSpan(2)))
            {
                return Malformed("client-first-message", "invalid attribute");
            }

            if (context.Username is { } connectUser && !string.Equals(connectUser, _username, StringComparison.Ordinal))
            {
                // One connection, one identity: a CONNECT user name other than the SCRAM one would mislead
                // anything that later looks at the CONNECT user name.
                return AuthStep.Failed("SCRAM: the user name differs from the CONNECT user name");
            }

            // Both branches do the same work, so the answer's timing does not depend on whether the user exists.
            var standIn = owner.UnknownUserCredential(_username);
            _knownUser = owner._store.TryGet(_username, out var credential) && IsUsable(credential);
            _credential = _knownUser ? credential! : standIn;

            var serverNonce = owner._serverNonce();
            _nonce = clientNonce + serverNonce;
            _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            _state = State.ExpectClientFinal;
            return AuthStep.Continue(Encoding.UTF8.GetBytes(_serverFirst));
        }

        private AuthStep ClientFinal(ReadOnlySpan<byte> data)
        {
            if (!TryDecode(data, "client-final-message", out var text, out var error))
            {
                return AuthStep.Failed(error);
            }

            // client-final-message = c=channel-binding,r=nonce[,extensions],p=proof
            var attributes = text.Split(',');
            if (attributes.Length < 3
                || !attributes[0].StartsWith("c=", StringComparison.Ordinal)
                || !attributes[1].StartsWith("r=", StringComparison.Ordinal)
                || !attributes[^1].StartsWith("p=", StringComparison.Ordinal)
                || !AreExtensions(attributes.AsSpan(2, attributes.Length - 3)))
            {
                return Malformed("client-final-message", "expected c=binding,r=nonce,p=proof");
            }

            if (!TryFromBase64(attributes[0].AsSpan(2), out var binding)
                || !binding.AsSpan().SequenceEqual(Encoding.ASCII.GetBytes(_gs2Header)))
            {
                return AuthStep.Failed("SCRAM: channel binding data does not match the GS2 header");
            }

            if (!string.Equals(attributes[1].AsSpan(2).ToString(), _nonce, StringComparison.Ordinal))
            {
                return AuthStep.Failed("SCRAM: nonce mismatch");
            }

            if (!TryFromBase64(attributes[^1].AsSpan(2), out var proof) || proof.Length != ScramCredential.KeyLength)
            {
                return Malformed("client-final-message", "invalid proof encoding");
            }

            var credential = _credential!;
            var withoutProof = text[..text.LastIndexOf(",p=", StringComparison.Ordinal)];
            var authMessage = _clientFirstBare + "," + _serverFirst + "," + withoutProof;

            // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof is right when H(ClientKey) = StoredKey.
            var clientKey = ScramMath.Hmac(credential.StoredKey, authMessage);
            for (var i = 0; i < clientKey.Length; i++)
            {
                clientKey[i] ^= proof[i];
            }

            var proofMatches = CryptographicOperations.FixedTimeEquals(SHA256.HashData(clientKey), credential.StoredKey);
            CryptographicOperations.ZeroMemory(clientKey);

            // Non-short-circuit '&': the stand-in credential of an unknown user costs the same as a real one.
            if (!(proofMatches & _knownUser))
            {
                return AuthStep.Failed(InvalidProofReason);
            }

            var serverSignature = ScramMath.Hmac(credential.ServerKey, authMessage);
            return AuthStep.Succeeded(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)), _username);
        }

        private static AuthStep Malformed(string message, string what) => AuthStep.Failed($"SCRAM: malformed {message}: {what}");

        private static bool IsUsable(ScramCredential? credential)
        {
            // A store returning a broken credential must not turn into an exception in the connection.
            return credential is { Salt.Length: > 0, Iterations: > 0, StoredKey.Length: ScramCredential.KeyLength, ServerKey.Length: ScramCredential.KeyLength };
        }

        private static bool TryDecode(ReadOnlySpan<byte> data, string message, out string text, out string error)
        {
            text = "";
            error = "";
            if (data.IsEmpty)
            {
                error = $"SCRAM: missing {message}";
                return false;
            }

            if (data.Length > MaxMessageLength)
            {
                error = $"SCRAM: {message} is longer than {MaxMessageLength} bytes";
                return false;
            }

            try
            {
                text = StrictUtf8.GetString(data);
            }
            catch (DecoderFallbackException)
            {
                error = $"SCRAM: {message} is not valid UTF-8";
                return false;
            }

            return true;
        }
    }

    /// <summary>RFC 5802 saslname: ',' and '=' are sent as "=2C" and "=3D"; any other '=' is an error.</summary>
    internal static bool TryUnescapeUsername(ReadOnlySpan<char> value, out string username)
    {
        username = "";
        if (value.IsEmpty)
        {
            return false;
        }

        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '=')
            {
                if (value[(i + 1)..].StartsWith("2C", StringComparison.Ordinal))
                {
                    builder.Append(',');
                }
                else if (value[(i + 1)..].StartsWith("3D", StringComparison.Ordinal))
                {
                    builder.Append('=');
                }
                else
                {
                    return false;
                }

                i += 2;
            }
            else if (c == '\0')
            {
                return false;
            }
            else
            {
                builder.Append(c);
            }
        }

        username = builder.ToString();
        return true;
    }

    /// <summary>RFC 5802: nonce = 1*printable, printable = %x21-2B / %x2D-7E (no ',').</summary>
    private static bool IsValidNonce(string nonce)
    {
        if (nonce.Length == 0)
        {
            return false;
        }

        foreach (var c in nonce)
        {
            if (c < 0x21 || c > 0x7E || c == ',')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Optional extensions are "x=value" with a letter other than the attributes we handle; we ignore them.</summary>
    private static bool AreExtensions(ReadOnlySpan<string> attributes)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.Length < 2 || !char.IsAsciiLetter(attribute[0]) || attribute[1] != '=')
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryFromBase64(ReadOnlySpan<char> text, out byte[] bytes)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        if (text.IsEmpty || !Convert.TryFromBase64Chars(text, buffer, out var written))
        {
            bytes = [];
            return false;
        }

        bytes = buffer.AsSpan(0, written).ToArray();
        return true;
    }
}
