namespace Tern.Server.Security;

/// <summary><c>Auth:Jwt</c>: JSON Web Tokens in the CONNECT password.</summary>
public sealed class JwtOptions
{
    public const string SectionName = "Auth:Jwt";

    /// <summary>Accept JWTs in the CONNECT password.</summary>
    public bool Enabled { get; set; }

    /// <summary><c>HS256</c> (shared secret) or <c>RS256</c> (RSA public key). A token's <c>alg</c> must be exactly this.</summary>
    public string Algorithm { get; set; } = "HS256";

    /// <summary>HS256: the shared secret (its UTF-8 bytes), at least 32 bytes.</summary>
    public string? Secret { get; set; }

    /// <summary>RS256: a PEM file with the RSA public key (<c>PUBLIC KEY</c> or <c>RSA PUBLIC KEY</c>), 2048 bits or more.</summary>
    public string? PublicKeyFile { get; set; }

    /// <summary>When set, the token's <c>iss</c> must equal it.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, the token's <c>aud</c> (a string or a list) must contain it.</summary>
    public string? Audience { get; set; }

    /// <summary>The claim holding the user name.</summary>
    public string UsernameClaim { get; set; } = "sub";

    /// <summary>The claim holding per-client ACL rules (<c>{"pub": [...], "sub": [...], "all": [...]}</c>); empty turns it off.</summary>
    public string AclClaim { get; set; } = "acl";

    /// <summary>Tolerance for <c>exp</c> and <c>nbf</c> against the broker's clock, in seconds (0-300).</summary>
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>Refuse tokens without <c>exp</c> (a token that never expires cannot be taken back).</summary>
    public bool RequireExpiration { get; set; } = true;
}
