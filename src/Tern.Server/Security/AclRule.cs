using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// One parsed access rule: who it applies to (user, client id, network, or everyone; the conditions
/// given must all hold), what (publish, subscribe or both), on which topic filter, allow or deny.
/// </summary>
internal sealed class AclRule
{
    public AclRule(bool allow, AccessAction action, AclTopicPattern topic, string? user = null, string? clientId = null, AddressRange? network = null, bool coveredOnly = false, string origin = "", AclRuleSource source = AclRuleSource.Config)
    {
        Allow = allow;
        Action = action;
        Topic = topic;
        User = user;
        ClientId = clientId;
        Network = network;
        CoveredOnly = coveredOnly;
        Origin = origin;
        Source = source;
    }

    public bool Allow { get; }

    public AccessAction Action { get; }

    public AclTopicPattern Topic { get; }

    public string? User { get; }

    public string? ClientId { get; }

    public AddressRange? Network { get; }

    /// <summary>
    /// For a deny rule on SUBSCRIBE: apply only to filters equal to or narrower than <see cref="Topic"/>
    /// (Mosquitto's check) instead of every filter that overlaps it.
    /// </summary>
    public bool CoveredOnly { get; }

    /// <summary>Where the rule came from, for log messages (<c>acl.json rules[2]</c>, <c>Acl:Rules:0</c>).</summary>
    public string Origin { get; }

    /// <summary>Which set of rules it belongs to, for <c>POST /api/v5/authorization/check</c>.</summary>
    public AclRuleSource Source { get; }

    public bool AppliesTo(ClientIdentity client)
        => (User is null || string.Equals(client.Username, User, StringComparison.Ordinal))
            && (ClientId is null || string.Equals(client.ClientId, ClientId, StringComparison.Ordinal))
            && (Network is null || Network.Contains(client.Address));

    public override string ToString()
    {
        var who = User is null && ClientId is null && Network is null
            ? "all"
            : string.Join(' ', new[] { User is null ? null : "user " + User, ClientId is null ? null : "client " + ClientId, Network is null ? null : "ip " + Network }.Where(s => s is not null));
        return $"{(Allow ? "allow" : "deny")} {who} {Action.ToString().ToLowerInvariant()} {Topic}";
    }
}

/// <summary>Where a rule was written, in the order they are checked (<see cref="AclAuthorizer.Explain"/>).</summary>
internal enum AclRuleSource
{
    /// <summary>The client's own rules from authentication (a JWT <c>acl</c> claim).</summary>
    Client,

    /// <summary><c>Acl:Rules</c> in the configuration.</summary>
    Config,

    /// <summary>The rules of the REST API (<c>acl_rules.json</c>, <see cref="AclBuiltIn"/>).</summary>
    BuiltIn,

    /// <summary><c>Acl:File</c>.</summary>
    File,
}

/// <summary>An immutable set of rules and the answer when none applies; swapped whole on reload.</summary>
internal sealed class AclRuleSet
{
    public AclRuleSet(IReadOnlyList<AclRule> rules, bool defaultAllow, bool protectSys = true)
    {
        Rules = rules.ToArray();
        DefaultAllow = defaultAllow;
        ProtectSys = protectSys;
    }

    /// <summary>
    /// No <c>Acl</c> configuration: only per-client rules (e.g. a JWT <c>acl</c> claim) are enforced and
    /// everything else is allowed, <c>$SYS</c> included, as without access control.
    /// </summary>
    public static AclRuleSet PerClientOnly { get; } = new([], defaultAllow: true, protectSys: false);

    /// <summary>Deny <c>$SYS</c> unless a rule allows it (on whenever an ACL is configured).</summary>
    public bool ProtectSys { get; }

    public AclRule[] Rules { get; }

    public bool DefaultAllow { get; }
}
