using System.Runtime.CompilerServices;
using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// The built-in rule engine behind <see cref="MqttBroker.Authorizer"/>. Per-client rules from the
/// authenticator (<see cref="ClientIdentity.Rules"/>) are checked first, then the global rules, in order;
/// the first rule that applies decides. When none applies the default decides, except that
/// <c>$SYS</c> topics are denied unless a rule explicitly allows them.
/// </summary>
/// <remarks>
/// Thread-safe and lock-free: the broker calls it on every client's read loop while a reload may swap
/// the rule set. Checks walk pre-parsed rules and allocate nothing.
/// </remarks>
internal sealed class AclAuthorizer : IMqttAuthorizer
{
    // Per-client rules are parsed once per rule list (the broker keeps one list per connection),
    // and dropped with it.
    private readonly ConditionalWeakTable<IReadOnlyList<AccessRule>, AclRule[]> _clientRules = new();
    private AclRuleSet _rules;
    private long _generation = 1;

    public AclAuthorizer(AclRuleSet rules)
    {
        _rules = rules;
    }

    public long Generation => Interlocked.Read(ref _generation);

    public AclRuleSet Rules => Volatile.Read(ref _rules);

    /// <summary>Replaces the rules; the broker drops its cached decisions when it sees the new generation.</summary>
    public void Update(AclRuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);

        // Rules first, generation second: a decision cached under the old generation may already use the
        // new rules (harmless), but one cached under the new generation never uses the old rules.
        Volatile.Write(ref _rules, rules);
        Interlocked.Increment(ref _generation);
    }

    public bool CanPublish(ClientIdentity client, string topic) => Decide(client, topic, AccessAction.Publish);

    public bool CanSubscribe(ClientIdentity client, string filter) => Decide(client, filter, AccessAction.Subscribe);

    /// <summary>Parses per-client rules. A malformed filter in a deny rule denies everything for its action (fail closed); in an allow rule it is ignored.</summary>
    internal static AclRule[] CompileClientRules(IReadOnlyList<AccessRule> rules)
    {
        var compiled = new List<AclRule>(rules.Count);
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var pattern = AclTopicPattern.TryParse(rule.TopicFilter, out _);
            if (pattern is null)
            {
                if (rule.Allow)
                {
                    continue;
                }

                pattern = AclTopicPattern.Everything;
            }

            compiled.Add(new AclRule(rule.Allow, rule.Action, pattern, origin: $"client rule {i}", source: AclRuleSource.Client));
        }

        return compiled.ToArray();
    }

    private static bool IsSys(string text) => text.StartsWith("$SYS", StringComparison.Ordinal) && (text.Length == 4 || text[4] == '/');

    // The first rule that applies, or null; the caller reads Allow off it. Returning the rule rather than
    // a verdict lets Explain say which rule decided without a second walk that could disagree.
    private static AclRule? Evaluate(AclRule[] rules, ClientIdentity client, string text, AccessAction action)
    {
        foreach (var rule in rules)
        {
            if ((rule.Action & action) == 0 || !rule.AppliesTo(client))
            {
                continue;
            }

            var topic = rule.Topic;
            if (topic.HasPlaceholders)
            {
                switch (topic.CheckPlaceholders(client.Username, client.ClientId))
                {
                    case AclPlaceholderState.Missing:
                        continue;
                    case AclPlaceholderState.Dangerous:
                        // A user name or client id with '+', '#' or '/' cannot be put into a filter without
                        // widening it: such a client gains nothing from an allow rule, and a deny rule
                        // denies it whatever the topic (fail closed).
                        if (rule.Allow)
                        {
                            continue;
                        }

                        return rule;
                }
            }

            bool hit;
            if (action == AccessAction.Publish)
            {
                hit = topic.Matches(text, client.Username, client.ClientId);
            }
            else if (rule.Allow || rule.CoveredOnly)
            {
                hit = topic.Covers(text, client.Username, client.ClientId);
            }
            else
            {
                hit = topic.Overlaps(text, client.Username, client.ClientId);
            }

            if (hit)
            {
                return rule;
            }
        }

        return null;
    }

    private bool Decide(ClientIdentity client, string text, AccessAction action) => Explain(client, text, action).Allowed;

    /// <summary>
    /// The answer to a PUBLISH (<paramref name="action"/> publish, a topic) or SUBSCRIBE (a filter, the
    /// inner one of a shared subscription), with the rule that gave it; the broker's checks go through here too.
    /// </summary>
    public AclDecision Explain(ClientIdentity client, string text, AccessAction action)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(text);
        var set = Volatile.Read(ref _rules);
        if (client.Rules is { Count: > 0 } own)
        {
            var compiled = _clientRules.GetValue(own, static r => CompileClientRules(r));
            if (Evaluate(compiled, client, text, action) is { } decided)
            {
                return new AclDecision(decided.Allow, decided, SysProtected: false);
            }
        }

        if (Evaluate(set.Rules, client, text, action) is { } rule)
        {
            return new AclDecision(rule.Allow, rule, SysProtected: false);
        }

        // $SYS reveals who is connected and how busy the broker is: readable (and writable) only
        // through an explicit allow rule, whatever the default. A client with its own rules (a token's
        // acl claim, which ends in a deny of '#', a filter that never matches '$' topics) is held to
        // this even without a configured ACL, so that it gets only what its rules list.
        var protectSys = set.ProtectSys || client.Rules is { Count: > 0 };
        return protectSys && IsSys(text)
            ? new AclDecision(false, null, SysProtected: true)
            : new AclDecision(set.DefaultAllow, null, SysProtected: false);
    }
}

/// <summary>
/// One answer of <see cref="AclAuthorizer.Explain"/>: <paramref name="Rule"/> is the first rule that
/// applied, or null when the default decided (<paramref name="SysProtected"/>: the default denied a
/// <c>$SYS</c> topic that no rule allows).
/// </summary>
internal readonly record struct AclDecision(bool Allowed, AclRule? Rule, bool SysProtected);
