using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Server.Security;

/// <summary>
/// Authenticates a CONNECT whose password is a JWT (as EMQX does): compact JWS with HS256 or RS256,
/// <c>exp</c>/<c>nbf</c> with clock skew, optional <c>iss</c>/<c>aud</c>. The user name comes from a
/// claim; a CONNECT user name, when given, must equal it. An ACL claim becomes per-client rules that
/// end with a deny-all, so such a client can do exactly what its token says.
/// A password that does not look like a JWT is left to the next authenticator.
/// </summary>
public sealed class JwtAuthenticator : IMqttAuthenticator, IDisposable
{
    /// <summary>Longer passwords are not taken for tokens; bounds the JSON parsing a client can cause.</summary>
    public const int MaxTokenLength = 16 * 1024;

    private static readonly AccessRule DenyAll = new(false, AccessAction.All, "#");

    private readonly JwtOptions _options;
    private readonly byte[]? _secret;
    private readonly RSA? _rsa;
    private readonly object _rsaGate = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _skew;

    /// <summary>Checks <paramref name="options"/> and loads the key.</summary>
    /// <exception cref="ArgumentException">A bad option; <see cref="ArgumentException.ParamName"/> is the option's name.</exception>
    public JwtAuthenticator(JwtOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        if (options.ClockSkewSeconds is < 0 or > 300)
        {
            throw new ArgumentException($"{JwtOptions.SectionName}:ClockSkewSeconds must be between 0 and 300.", nameof(JwtOptions.ClockSkewSeconds));
        }

        _skew = TimeSpan.FromSeconds(options.ClockSkewSeconds);
        if (string.IsNullOrWhiteSpace(options.UsernameClaim))
        {
            throw new ArgumentException($"{JwtOptions.SectionName}:UsernameClaim must not be empty.", nameof(JwtOptions.UsernameClaim));
        }

        switch (options.Algorithm)
        {
            case "HS256":
                if (!string.IsNullOrEmpty(options.PublicKeyFile))
                {
                    throw new ArgumentException($"{JwtOptions.SectionName}:PublicKeyFile is for RS256; HS256 uses {JwtOptions.SectionName}:Secret.", nameof(JwtOptions.PublicKeyFile));
                }

                // RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
                _secret = Encoding.UTF8.GetBytes(options.Secret ?? "");
                if (_secret.Length < 32)
                {
                    throw new ArgumentException($"{JwtOptions.SectionName}:Secret must be at least 32 bytes for HS256.", nameof(JwtOptions.Secret));
                }

                break;
            case "RS256":
                if (!string.IsNullOrEmpty(options.Secret))
                {
                    throw new ArgumentException($"{JwtOptions.SectionName}:Secret is for HS256; RS256 uses {JwtOptions.SectionName}:PublicKeyFile.", nameof(JwtOptions.Secret));
                }

                _rsa = LoadPublicKey(options.PublicKeyFile);
                break;
            default:
                throw new ArgumentException($"{JwtOptions.SectionName}:Algorithm must be HS256 or RS256, not '{options.Algorithm}'.", nameof(JwtOptions.Algorithm));
        }
    }

    public ValueTask<AuthenticationResult> AuthenticateAsync(ConnectCredentials credentials, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        if (credentials.Password is not { } password || !LooksLikeJwt(password.Span))
        {
            return ValueTask.FromResult(AuthenticationResult.NotHandled);
        }

        AuthenticationResult result;
        try
        {
            result = Validate(Encoding.ASCII.GetString(password.Span), credentials.Username);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or JsonException or InvalidOperationException or CryptographicException)
        {
            // The token is the client's input: whatever it holds, the answer is a refusal, not a dropped connection.
            result = Bad("malformed token");
        }

        return ValueTask.FromResult(result);
    }

    /// <summary>
    /// A compact JWS: three base64url parts, the header starting <c>eyJ</c> (base64 of <c>{"</c>). Ordinary
    /// passwords of this shape are possible but unlikely; with JWT on, they are taken for tokens.
    /// </summary>
    public static bool LooksLikeJwt(ReadOnlySpan<byte> password)
    {
        if (password.Length is < 10 or > MaxTokenLength || !password.StartsWith("eyJ"u8))
        {
            return false;
        }

        var dots = 0;
        foreach (var b in password)
        {
            if (b == (byte)'.')
            {
                dots++;
            }
            else if (!(char.IsAsciiLetterOrDigit((char)b) || b == (byte)'-' || b == (byte)'_'))
            {
                return false;
            }
        }

        return dots == 2;
    }

    /// <summary>
    /// Maps an ACL claim, <c>{"pub": [filters], "sub": [filters], "all": [filters]}</c>, to allow rules
    /// followed by a deny-all. Filters may use <c>%u</c> and <c>%c</c>.
    /// </summary>
    /// <exception cref="FormatException">Not an object of string lists, an unknown key or an invalid filter (a token we cannot read must not grant anything).</exception>
    public static IReadOnlyList<AccessRule> RulesFromAclClaim(JsonElement acl)
    {
        if (acl.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the ACL claim must be an object");
        }

        var rules = new List<AccessRule>();
        foreach (var property in acl.EnumerateObject())
        {
            var action = property.Name switch
            {
                "pub" or "publish" => AccessAction.Publish,
                "sub" or "subscribe" => AccessAction.Subscribe,
                "all" => AccessAction.All,
                _ => throw new FormatException($"unknown ACL claim key '{property.Name}' (expected pub, sub or all)"),
            };
            if (property.Value.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"the ACL claim's '{property.Name}' must be a list of topic filters");
            }

            foreach (var item in property.Value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 } filter || !MqttTopic.IsValidTopicFilter(filter))
                {
                    throw new FormatException($"the ACL claim's '{property.Name}' holds an invalid topic filter");
                }

                rules.Add(new AccessRule(true, action, filter));
            }
        }

        rules.Add(DenyAll);
        return rules;
    }

    public void Dispose() => _rsa?.Dispose();

    private static AuthenticationResult Bad(string reason) => AuthenticationResult.BadCredentials("JWT: " + reason);

    private static RSA LoadPublicKey(string? path)
    {
        const string Key = nameof(JwtOptions.PublicKeyFile);
        if (string.IsNullOrEmpty(path))
        {
            throw new ArgumentException($"{JwtOptions.SectionName}:PublicKeyFile is required for RS256.", Key);
        }

        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{JwtOptions.SectionName}:PublicKeyFile: cannot read {Path.GetFullPath(path)} ({ex.Message}).", Key, ex);
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw new ArgumentException($"{JwtOptions.SectionName}:PublicKeyFile: {Path.GetFullPath(path)} holds no RSA key in PEM form.", Key, ex);
        }

        if (rsa.KeySize < 2048)
        {
            rsa.Dispose();
            throw new ArgumentException($"{JwtOptions.SectionName}:PublicKeyFile: the RSA key has {rsa.KeySize} bits; at least 2048 are required.", Key);
        }

        return rsa;
    }

    private AuthenticationResult Validate(string token, string? connectUsername)
    {
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = token.IndexOf('.', firstDot + 1);
        if (!TryDecode(token.AsSpan(0, firstDot), out var headerBytes)
            || !TryDecode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1), out var payloadBytes)
            || !TryDecode(token.AsSpan(secondDot + 1), out var signature))
        {
            return Bad("malformed token");
        }

        // The header decides nothing but must name exactly our algorithm: a token may not pick
        // "none", or HS256 signed with the RSA public key as secret (the classic confusion attack).
        using (var header = TryParse(headerBytes))
        {
            if (header is null || header.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Bad("malformed header");
            }

            if (!header.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != _options.Algorithm)
            {
                return Bad($"the algorithm must be {_options.Algorithm}");
            }

            if (header.RootElement.TryGetProperty("crit", out _))
            {
                // RFC 7515 4.1.11: extensions we do not understand must be refused.
                return Bad("critical header extensions are not supported");
            }
        }

        if (!VerifySignature(Encoding.ASCII.GetBytes(token, 0, secondDot), signature))
        {
            return Bad("invalid signature");
        }

        using var payload = TryParse(payloadBytes);
        if (payload is null || payload.RootElement.ValueKind != JsonValueKind.Object)
        {
            return Bad("malformed claims");
        }

        var claims = payload.RootElement;
        var now = _time.GetUtcNow();
        if (!TryGetTime(claims, "exp", out var exp, out var expPresent) || !TryGetTime(claims, "nbf", out var nbf, out var nbfPresent))
        {
            return Bad("exp and nbf must be numbers");
        }

        if (!expPresent && _options.RequireExpiration)
        {
            return Bad("the token has no exp");
        }

        if (expPresent && now >= exp + _skew)
        {
            return Bad("the token has expired");
        }

        if (nbfPresent && now + _skew < nbf)
        {
            return Bad("the token is not valid yet");
        }

        if (!string.IsNullOrEmpty(_options.Issuer)
            && !(claims.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String && iss.GetString() == _options.Issuer))
        {
            return Bad("wrong issuer");
        }

        if (!string.IsNullOrEmpty(_options.Audience) && !HasAudience(claims, _options.Audience))
        {
            return Bad("wrong audience");
        }

        if (!claims.TryGetProperty(_options.UsernameClaim, out var userClaim) || userClaim.ValueKind != JsonValueKind.String || userClaim.GetString() is not { Length: > 0 } username)
        {
            return Bad($"the token has no '{_options.UsernameClaim}' claim");
        }

        if (!string.IsNullOrEmpty(connectUsername) && !string.Equals(connectUsername, username, StringComparison.Ordinal))
        {
            // One connection, one identity: ACL rules by user name and logs must not see two names.
            return Bad($"the CONNECT user name differs from the token's '{_options.UsernameClaim}'");
        }

        IReadOnlyList<AccessRule>? rules = null;
        if (!string.IsNullOrEmpty(_options.AclClaim) && claims.TryGetProperty(_options.AclClaim, out var acl))
        {
            try
            {
                rules = RulesFromAclClaim(acl);
            }
            catch (FormatException ex)
            {
                return Bad(ex.Message);
            }
        }

        return AuthenticationResult.Accept(username, rules);
    }

    private bool VerifySignature(byte[] signingInput, byte[] signature)
    {
        if (_secret is not null)
        {
            var expected = HMACSHA256.HashData(_secret, signingInput);
            return CryptographicOperations.FixedTimeEquals(expected, signature);
        }

        // One RSA object for every connection; its thread safety is not documented, and a verify is short.
        lock (_rsaGate)
        {
            return _rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
    }

    private static bool HasAudience(JsonElement claims, string audience)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        if (aud.ValueKind == JsonValueKind.String)
        {
            return aud.GetString() == audience;
        }

        if (aud.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in aud.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && item.GetString() == audience)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool TryGetTime(JsonElement claims, string name, out DateTimeOffset time, out bool present)
    {
        time = default;
        present = claims.TryGetProperty(name, out var value);
        if (!present)
        {
            return true;
        }

        // NumericDate: seconds since the epoch, possibly fractional (RFC 7519 2).
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || double.IsNaN(seconds)
            || seconds < 0 || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds() - 1000)
        {
            return false;
        }

        time = DateTimeOffset.UnixEpoch.AddSeconds(seconds);
        return true;
    }

    private static bool TryDecode(ReadOnlySpan<char> part, out byte[] bytes)
    {
        bytes = [];
        if (part.IsEmpty)
        {
            return false;
        }

        var buffer = new byte[Base64Url.GetMaxDecodedLength(part.Length)];
        if (buffer.Length == 0 || !Base64Url.TryDecodeFromChars(part, buffer, out var written))
        {
            return false;
        }

        bytes = buffer.AsSpan(0, written).ToArray();
        return true;
    }

    private static JsonDocument? TryParse(byte[] json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
