namespace Tern.Server.Security;

/// <summary><c>Auth:Scram</c>: SCRAM-SHA-256 enhanced authentication (MQTT 5).</summary>
internal sealed class ScramAuthOptions
{
    public const string SectionName = "Auth:Scram";

    /// <summary>Offers the <c>SCRAM-SHA-256</c> authentication method to MQTT 5 clients.</summary>
    public bool Enabled { get; set; }
}

/// <summary>One entry of <c>Auth:Users</c>.</summary>
internal sealed class AuthUserOptions
{
    public string? Username { get; set; }

    public string? Password { get; set; }
}
