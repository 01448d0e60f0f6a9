using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// Turns the fields of one rule (from the JSON file or from <c>Acl:Rules:N</c>) into an <see cref="AclRule"/>.
/// Field names are case-insensitive and the same in both places.
/// </summary>
internal static class AclRuleReader
{
    public const string AllowField = "allow";
    public const string UserField = "user";
    public const string ClientIdField = "clientId";
    public const string IpField = "ip";
    public const string AllField = "all";
    public const string ActionField = "action";
    public const string TopicField = "topic";
    public const string CoveredOnlyField = "coveredOnly";

    public static readonly string[] Fields = [AllowField, UserField, ClientIdField, IpField, AllField, ActionField, TopicField, CoveredOnlyField];

    /// <summary>The canonical spelling of a field, or null when it is not one.</summary>
    public static string? Canonical(string name)
    {
        foreach (var field in Fields)
        {
            if (field.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return field;
            }
        }

        return null;
    }

    /// <summary>Builds a rule; <paramref name="fail"/> makes the exception for a field (null: the rule as a whole) and a problem.</summary>
    /// <param name="fields">Canonical field name to value; booleans as <c>true</c>/<c>false</c>.</param>
    /// <param name="origin">Where the rule was read from, for error messages.</param>
    /// <param name="source">Which kind of rule list it belongs to (client, configuration, file, REST API).</param>
    /// <param name="fail">Makes the exception for a field (null: the rule as a whole) and a problem.</param>
    public static AclRule Build(IReadOnlyDictionary<string, string> fields, string origin, AclRuleSource source, Func<string?, string, Exception> fail)
    {
        var allow = RequiredBool(fields, AllowField, fail);
        var action = ReadAction(Required(fields, ActionField, fail), fail);
        var topicText = Required(fields, TopicField, fail);
        var topic = AclTopicPattern.TryParse(topicText, out var topicError) ?? throw fail(TopicField, $"'{topicText}' {topicError}.");

        var user = Optional(fields, UserField, fail);
        var clientId = Optional(fields, ClientIdField, fail);
        AddressRange? network = null;
        if (Optional(fields, IpField, fail) is { } ipText)
        {
            network = AddressRange.TryParse(ipText.Trim(), out var ipError) ?? throw fail(IpField, ipError + ".");
        }

        var all = fields.ContainsKey(AllField) && RequiredBool(fields, AllField, fail);
        if (fields.ContainsKey(AllField) && !all)
        {
            throw fail(AllField, "must be true when given; to match only some clients use user, clientId or ip.");
        }

        var narrowed = user is not null || clientId is not null || network is not null;
        if (all && narrowed)
        {
            throw fail(AllField, "cannot be combined with user, clientId or ip.");
        }

        if (!all && !narrowed)
        {
            // A rule for everyone must say so, so that a misspelt or forgotten condition is not a rule for everyone.
            throw fail(null, "must say whom it applies to: \"user\", \"clientId\", \"ip\" (all given must hold) or \"all\": true.");
        }

        var coveredOnly = fields.ContainsKey(CoveredOnlyField) && RequiredBool(fields, CoveredOnlyField, fail);
        if (coveredOnly && allow)
        {
            throw fail(CoveredOnlyField, "only applies to deny rules (allow rules always require the filter to be covered).");
        }

        if (coveredOnly && (action & AccessAction.Subscribe) == 0)
        {
            throw fail(CoveredOnlyField, "only applies to subscribe rules.");
        }

        return new AclRule(allow, action, topic, user, clientId, network, coveredOnly, origin, source);
    }

    /// <summary><c>allow</c> or <c>deny</c> (the default when no rule applies).</summary>
    public static bool? ReadDefault(string value) => value.Trim().ToLowerInvariant() switch
    {
        "allow" => true,
        "deny" => false,
        _ => null,
    };

    private static AccessAction ReadAction(string value, Func<string?, string, Exception> fail) => value.Trim().ToLowerInvariant() switch
    {
        "publish" => AccessAction.Publish,
        "subscribe" => AccessAction.Subscribe,
        "all" => AccessAction.All,
        _ => throw fail(ActionField, $"must be publish, subscribe or all, not '{value}'."),
    };

    private static string Required(IReadOnlyDictionary<string, string> fields, string name, Func<string?, string, Exception> fail)
        => Optional(fields, name, fail) ?? throw fail(null, $"needs \"{name}\".");

    private static string? Optional(IReadOnlyDictionary<string, string> fields, string name, Func<string?, string, Exception> fail)
    {
        if (!fields.TryGetValue(name, out var value))
        {
            return null;
        }

        return value.Length == 0 ? throw fail(name, "must not be empty.") : value;
    }

    private static bool RequiredBool(IReadOnlyDictionary<string, string> fields, string name, Func<string?, string, Exception> fail)
    {
        var value = Required(fields, name, fail);
        return value.Trim().ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw fail(name, $"must be true or false, not '{value}'."),
        };
    }
}
