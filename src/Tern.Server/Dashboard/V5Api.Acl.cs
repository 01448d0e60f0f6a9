using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    /// <summary>EMQX's built-in authorization source; Tern's is <c>acl_rules.json</c> (<see cref="AclBuiltIn"/>).</summary>
    private const string RulesPath = "/authorization/sources/built_in_database/rules";

    private static readonly string[] AclRuleFields = ["topic", "permission", "action", "qos", "retain"];

    private void MapAcl(RouteGroupBuilder api)
    {
        api = api.MapGroup(string.Empty).WithTags("ACL rules");
        foreach (var (segment, owner) in new[] { ("/users", AclOwner.User), ("/clients", AclOwner.Client) })
        {
            api.MapGet(RulesPath + segment, (Func<HttpContext, IResult>)(context => RuleOwners(context, owner)));
            api.MapPost(RulesPath + segment, (Func<HttpContext, Task<IResult>>)(context => AddRuleOwnersAsync(context, owner)));
            api.MapDelete(RulesPath + segment, (Func<HttpContext, IResult>)(context => ClearRuleOwners(context, owner)));
            api.MapGet(RulesPath + segment + "/{who}", (Func<HttpContext, IResult>)(context => RuleOwner(context, owner)));
            api.MapPut(RulesPath + segment + "/{who}", (Func<HttpContext, Task<IResult>>)(context => SetRuleOwnerAsync(context, owner)));
            api.MapDelete(RulesPath + segment + "/{who}", (Func<HttpContext, IResult>)(context => DeleteRuleOwner(context, owner)));
        }
        api.MapGet(RulesPath + "/all", RulesForAll);
        api.MapPost(RulesPath + "/all", (Func<HttpContext, Task<IResult>>)SetRulesForAllAsync);
        api.MapPut(RulesPath + "/all", (Func<HttpContext, Task<IResult>>)SetRulesForAllAsync);
        api.MapDelete(RulesPath + "/all", ClearRulesForAll);
    }

    private enum AclOwner
    {
        User,
        Client,
    }

    /// <summary><c>GET .../rules/users</c> or <c>.../clients</c>: paged, <c>like_username</c>/<c>like_clientid</c> filter.</summary>
    private IResult RuleOwners(HttpContext context, AclOwner owner)
    {
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        var like = context.Request.Query[owner == AclOwner.User ? "like_username" : "like_clientid"].ToString();
        var owners = OwnersOf(owner).Where(p => like.Length == 0 || p.Key.Contains(like, StringComparison.Ordinal)).ToArray();
        var data = Slice(owners, page, limit).Select(p => ToV5(owner, p.Key, p.Value)).ToArray();
        return Ok(new V5AclOwnerPage(data, Meta(page, limit, owners.Length)), Json.V5AclOwnerPage);
    }

    private IResult RuleOwner(HttpContext context, AclOwner owner)
    {
        var who = context.Request.RouteValues["who"] as string ?? "";
        var found = OwnersOf(owner).FirstOrDefault(p => p.Key == who);
        return (found.Value is { } rules ? Ok(ToV5(owner, who, rules), Json.V5AclOwner) : NoRulesFor(owner, who));
    }

    /// <summary><c>POST .../rules/users</c> with <c>[{"username", "rules"}]</c>: 204; 409 when one already has rules.</summary>
    private async Task<IResult> AddRuleOwnersAsync(HttpContext context, AclOwner owner)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            return AddRuleOwners(context, owner, document.RootElement);
        }
    }

    private IResult AddRuleOwners(HttpContext context, AclOwner owner, JsonElement root)
    {
        var key = KeyOf(owner);
        if (root.ValueKind != JsonValueKind.Array)
        {
            return BadRequest("body", $"The request body must be a list such as [{{\"{key}\": \"alice\", \"rules\": [{{\"topic\": \"t/#\", \"permission\": \"deny\", \"action\": \"publish\"}}]}}].");
        }

        var changes = new Dictionary<string, IReadOnlyList<AclBuiltInRule>>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in root.EnumerateArray())
        {
            if (ReadOwner(item, owner, $"[{index}].", null, out var who, out var rules) is { } error)
            {
                return BadRequest(error);
            }

            if (!changes.TryAdd(who!, rules))
            {
                return BadRequest($"[{index}].{key}", $"[{index}].{key} '{who}' is given twice.");
            }

            index++;
        }

        var existing = OwnersOf(owner).Select(static p => p.Key).FirstOrDefault(changes.ContainsKey);
        if (existing is not null)
        {
            return Error(StatusCodes.Status409Conflict, "ALREADY_EXISTS", $"{key}: '{existing}' already has rules; replace them with PUT {Prefix}{RulesPath}/{(owner == AclOwner.User ? "users" : "clients")}/{{{key}}}.");
        }

        Apply(owner, changes);
        V5Log.AclChanged(logger, $"{changes.Count} {(owner == AclOwner.User ? "users" : "clients")} added", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary><c>PUT .../rules/users/{username}</c> with <c>{"rules": [...]}</c>: replaces that user's rules.</summary>
    private async Task<IResult> SetRuleOwnerAsync(HttpContext context, AclOwner owner)
    {
        var who = context.Request.RouteValues["who"] as string ?? "";
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            return SetRuleOwner(context, owner, who, document.RootElement);
        }
    }

    private IResult SetRuleOwner(HttpContext context, AclOwner owner, string who, JsonElement root)
    {
        // EMQX's body names the owner again; without it, the path's is meant.
        if (ReadOwner(root, owner, "", who, out var named, out var rules) is { } error)
        {
            return BadRequest(error);
        }

        if (named != who)
        {
            return BadRequest(KeyOf(owner), $"{KeyOf(owner)} '{named}' differs from the one in the path '{who}'.");
        }

        if (!OwnersOf(owner).Any(p => p.Key == who))
        {
            return NoRulesFor(owner, who);
        }

        Apply(owner, new Dictionary<string, IReadOnlyList<AclBuiltInRule>> { [who] = rules });
        V5Log.AclChanged(logger, $"rules of {KeyOf(owner)} {who} replaced", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private IResult DeleteRuleOwner(HttpContext context, AclOwner owner)
    {
        var who = context.Request.RouteValues["who"] as string ?? "";
        if (!OwnersOf(owner).Any(p => p.Key == who))
        {
            return NoRulesFor(owner, who);
        }

        Apply(owner, new Dictionary<string, IReadOnlyList<AclBuiltInRule>> { [who] = [] });
        V5Log.AclChanged(logger, $"rules of {KeyOf(owner)} {who} deleted", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private IResult ClearRuleOwners(HttpContext context, AclOwner owner)
    {
        if (owner == AclOwner.User)
        {
            management.Acl.ClearUsers();
        }
        else
        {
            management.Acl.ClearClients();
        }

        V5Log.AclChanged(logger, $"rules of all {(owner == AclOwner.User ? "users" : "clients")} deleted", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private IResult RulesForAll() => Ok(new V5AclAll([.. management.Acl.All.Select(ToV5)]), Json.V5AclAll);

    /// <summary><c>POST .../rules/all</c> with <c>{"rules": [...]}</c>: replaces the rules for every client.</summary>
    private async Task<IResult> SetRulesForAllAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rules", out var list))
            {
                return BadRequest("rules", "rules is required: the body is {\"rules\": [{\"topic\": \"t/#\", \"permission\": \"deny\", \"action\": \"publish\"}]}.");
            }

            if (ReadRules(list, "", out var rules) is { } error)
            {
                return BadRequest(error);
            }

            management.Acl.SetAll(rules);
        }

        V5Log.AclChanged(logger, "rules for all replaced", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private IResult ClearRulesForAll(HttpContext context)
    {
        management.Acl.SetAll([]);
        V5Log.AclChanged(logger, "rules for all deleted", management.Acl.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private void Apply(AclOwner owner, Dictionary<string, IReadOnlyList<AclBuiltInRule>> changes)
    {
        if (owner == AclOwner.User)
        {
            management.Acl.SetUsers(changes);
        }
        else
        {
            management.Acl.SetClients(changes);
        }
    }

    private IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> OwnersOf(AclOwner owner)
        => owner == AclOwner.User ? management.Acl.Users : management.Acl.Clients;

    private static string KeyOf(AclOwner owner) => owner == AclOwner.User ? "username" : "clientid";

    private static IResult NoRulesFor(AclOwner owner, string who)
        => Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"{KeyOf(owner)}: no rules for '{who}'.");

    private static V5AclOwner ToV5(AclOwner owner, string who, IReadOnlyList<AclBuiltInRule> rules)
        => new(owner == AclOwner.User ? who : null, owner == AclOwner.Client ? who : null, [.. rules.Select(ToV5)]);

    private static V5AclRule ToV5(AclBuiltInRule rule) => new(rule.Topic, rule.Permission, rule.Action, [0, 1, 2], "all");

    /// <summary>Reads <c>{"username": ..., "rules": [...]}</c>; returns the sentence naming the bad field, or null.</summary>
    private static FieldError? ReadOwner(JsonElement item, AclOwner owner, string where, string? implied, out string? who, out List<AclBuiltInRule> rules)
    {
        who = null;
        rules = [];
        var key = KeyOf(owner);
        if (item.ValueKind != JsonValueKind.Object)
        {
            return where.Length > 0
                ? new FieldError(where[..^1], $"{where[..^1]} must be an object such as {{\"{key}\": \"alice\", \"rules\": [...]}}.")
                : new FieldError("body", $"The request body must be an object such as {{\"{key}\": \"alice\", \"rules\": [...]}}.");
        }

        foreach (var property in item.EnumerateObject())
        {
            if (property.Name != key && property.Name != "rules")
            {
                return new FieldError($"{where}{property.Name}", $"{where}{property.Name} is not a known field; the fields are {key} and rules.");
            }
        }

        if (!item.TryGetProperty(key, out var whoElement) && implied is not null)
        {
            who = implied;
        }
        else if (whoElement.ValueKind != JsonValueKind.String || whoElement.GetString() is not { Length: > 0 } name)
        {
            return new FieldError($"{where}{key}", $"{where}{key} is required: a non-empty string.");
        }
        else
        {
            who = name;
        }

        if (!item.TryGetProperty("rules", out var list))
        {
            return new FieldError($"{where}rules", $"{where}rules is required: a list of {{\"topic\", \"permission\", \"action\"}}.");
        }

        return ReadRules(list, where, out rules);
    }

    private static FieldError? ReadRules(JsonElement list, string where, out List<AclBuiltInRule> rules)
    {
        rules = [];
        if (list.ValueKind != JsonValueKind.Array)
        {
            return new FieldError($"{where}rules", $"{where}rules must be a list of {{\"topic\", \"permission\", \"action\"}}.");
        }

        foreach (var item in list.EnumerateArray())
        {
            var at = $"{where}rules[{rules.Count}].";
            if (item.ValueKind != JsonValueKind.Object)
            {
                return new FieldError(at[..^1], $"{at[..^1]} must be an object such as {{\"topic\": \"t/#\", \"permission\": \"deny\", \"action\": \"publish\"}}.");
            }

            foreach (var property in item.EnumerateObject())
            {
                if (Array.IndexOf(AclRuleFields, property.Name) < 0)
                {
                    return new FieldError($"{at}{property.Name}", $"{at}{property.Name} is not a known field; the fields are {string.Join(", ", AclRuleFields)}.");
                }
            }

            if (ReadRuleText(item, "topic", at, out var topic) is { } noTopic)
            {
                return noTopic;
            }

            if (ReadRuleText(item, "permission", at, out var permission) is { } noPermission)
            {
                return noPermission;
            }

            if (ReadRuleText(item, "action", at, out var action) is { } noAction)
            {
                return noAction;
            }

            // Tern's rules do not look at QoS or the retain flag: only "every QoS" and "either" are taken.
            if (item.TryGetProperty("qos", out var qos) && !(qos.ValueKind == JsonValueKind.Array && qos.EnumerateArray().Select(static q => q.ValueKind == JsonValueKind.Number && q.TryGetInt32(out var n) ? n : -1).Order().SequenceEqual([0, 1, 2])))
            {
                return new FieldError($"{at}qos", $"{at}qos {qos.GetRawText()} is not supported: Tern's rules apply to every QoS, leave qos out or give [0, 1, 2].");
            }

            if (item.TryGetProperty("retain", out var retain) && !(retain.ValueKind == JsonValueKind.String && retain.GetString() == "all"))
            {
                return new FieldError($"{at}retain", $"{at}retain {retain.GetRawText()} is not supported: Tern's rules apply to retained and other messages alike, leave retain out or give \"all\".");
            }

            var rule = new AclBuiltInRule(topic, permission, action);
            if (AclBuiltIn.Check(rule) is { } problem)
            {
                // The checker's sentence starts with the field it refuses; otherwise the rule as a whole is.
                var first = problem.Split(' ', 2)[0];
                return first is "topic" or "permission" or "action"
                    ? new FieldError(at + first, at + problem)
                    : new FieldError(at[..^1], $"{at[..^1]}: {problem}");
            }

            rules.Add(rule);
        }

        return null;
    }

    private static FieldError? ReadRuleText(JsonElement item, string name, string at, out string value)
    {
        value = "";
        if (!item.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.String || element.GetString() is not { Length: > 0 } text)
        {
            return name switch
            {
                "permission" => new FieldError($"{at}permission", $"{at}permission is required: allow or deny."),
                "action" => new FieldError($"{at}action", $"{at}action is required: publish, subscribe or all."),
                _ => new FieldError($"{at}topic", $"{at}topic is required: a topic filter such as sensors/# (${{username}} and ${{clientid}} are replaced)."),
            };
        }

        value = text;
        return null;
    }
}
