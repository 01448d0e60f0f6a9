using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Broker;
using Tern.Protocol;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    /// <summary>Tern's own (EMQX has no such endpoint): what the ACL answers a client, and why.</summary>
    private const string AclCheckPath = "/authorization/check";

    private static readonly string[] AclCheckFields = ["clientid", "username", "ipaddress", "topic", "action"];

    private void MapAclCheck(RouteGroupBuilder api)
        => api.MapPost(AclCheckPath, (Func<HttpContext, Task<IResult>>)CheckAclAsync).WithTags("ACL rules");

    /// <summary>
    /// <c>POST /api/v5/authorization/check</c> <c>{"clientid", "username", "topic", "action"}</c>: the broker's
    /// own authorizer asked as a PUBLISH or SUBSCRIBE of that client would ask it, with the rule that decided.
    /// </summary>
    private async Task<IResult> CheckAclAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (ReadAclCheck(document.RootElement, out var client, out var topic, out var action) is { } error)
            {
                return BadRequest(error);
            }

            return Ok(Explain(client!, topic, action), Json.V5AclCheck);
        }
    }

    private V5AclCheck Explain(ClientIdentity client, string topic, AccessAction action)
    {
        // Without an authorizer the broker lets everything through (MqttConnection.MayPublish).
        if (broker.Authorizer is not AclAuthorizer authorizer)
        {
            return new V5AclCheck("allow", "none", null, "No authorizer is set: everything is allowed.");
        }

        var decision = authorizer.Explain(client, topic, action);
        var result = decision.Allowed ? "allow" : "deny";
        if (decision.Rule is not { } rule)
        {
            return new V5AclCheck(result, "default", null, decision.SysProtected
                ? "No rule applies, and $SYS topics are denied unless a rule allows them."
                : $"No rule applies: the default ({result}) decides.");
        }

        var ruleAction = rule.Action switch
        {
            AccessAction.Publish => "publish",
            AccessAction.Subscribe => "subscribe",
            _ => "all",
        };
        if (rule.Source == AclRuleSource.BuiltIn && management.Acl.TryFind(rule, out var place))
        {
            var shown = new V5AclCheckRule(
                place.Rule.Permission,
                place.Rule.Action,
                place.Rule.Topic,
                place.List == "users" ? place.Who : null,
                place.List == "clients" ? place.Who : null,
                null,
                place.List,
                place.Index,
                rule.Origin);
            return new V5AclCheck(result, "built_in_database", shown, $"Rule {place.Index + 1} of {Owner(place)} decides.");
        }

        var source = rule.Source switch
        {
            AclRuleSource.Client => "client",
            AclRuleSource.File => "file",
            AclRuleSource.BuiltIn => "built_in_database",
            _ => "config",
        };
        var other = new V5AclCheckRule(
            rule.Allow ? "allow" : "deny", ruleAction, rule.Topic.Filter, rule.User, rule.ClientId, rule.Network?.Text, null, null, rule.Origin);
        return new V5AclCheck(result, source, other, $"{rule.Origin} decides.");

        static string Owner(AclBuiltInPlace place) => place.List switch
        {
            "users" => $"user name {place.Who}",
            "clients" => $"client id {place.Who}",
            _ => "the rules for all",
        };
    }

    /// <summary>Reads the check's body; returns the field refused and why, or null.</summary>
    private static FieldError? ReadAclCheck(JsonElement root, out ClientIdentity? client, out string topic, out AccessAction action)
    {
        client = null;
        topic = "";
        action = AccessAction.Publish;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FieldError("body", "The request body must be a JSON object such as {\"clientid\": \"dev-1\", \"username\": \"alice\", \"topic\": \"sensors/1\", \"action\": \"publish\"}.");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(AclCheckFields, property.Name) < 0)
            {
                return new FieldError(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", AclCheckFields)}.");
            }
        }

        if (!root.TryGetProperty("clientid", out var idElement) || idElement.ValueKind != JsonValueKind.String || idElement.GetString() is not { Length: > 0 } clientId)
        {
            return new FieldError("clientid", "clientid is required: the client identifier, a non-empty string.");
        }

        string? username = null;
        if (root.TryGetProperty("username", out var userElement) && userElement.ValueKind != JsonValueKind.Null)
        {
            if (userElement.ValueKind != JsonValueKind.String)
            {
                return new FieldError("username", $"username must be a string, or null for a client without one, not {userElement.GetRawText()}.");
            }

            // An empty user name is no user name, as the dashboard's form sends it.
            username = userElement.GetString() is { Length: > 0 } given ? given : null;
        }

        IPAddress? address = null;
        if (root.TryGetProperty("ipaddress", out var ipElement) && ipElement.ValueKind != JsonValueKind.Null
            && (ipElement.ValueKind != JsonValueKind.String || !IPAddress.TryParse(ipElement.GetString(), out address)))
        {
            return new FieldError("ipaddress", $"ipaddress must be an IP address such as 192.0.2.7, not {ipElement.GetRawText()}.");
        }

        if (!root.TryGetProperty("action", out var actionElement))
        {
            return new FieldError("action", "action is required: publish or subscribe.");
        }

        var actionText = actionElement.ValueKind == JsonValueKind.String ? actionElement.GetString() : null;
        if (actionText is not ("publish" or "subscribe"))
        {
            return new FieldError("action", $"action must be publish or subscribe, not {actionElement.GetRawText()}.");
        }

        action = actionText == "publish" ? AccessAction.Publish : AccessAction.Subscribe;
        if (!root.TryGetProperty("topic", out var topicElement) || topicElement.ValueKind != JsonValueKind.String || topicElement.GetString() is not { Length: > 0 } text)
        {
            return new FieldError("topic", "topic is required: a topic name to publish to, or a topic filter to subscribe to.");
        }

        if (action == AccessAction.Publish && !MqttTopic.IsValidTopicName(text))
        {
            return new FieldError("topic", $"topic '{text}' is not a topic name a client can publish to (no '+' or '#').");
        }

        if (action == AccessAction.Subscribe)
        {
            if (!MqttTopic.IsValidTopicFilter(text))
            {
                return new FieldError("topic", $"topic '{text}' is not a valid topic filter ('#' only last and alone in its level, '+' alone in its level).");
            }

            // The broker asks about the filter inside a shared subscription, as MqttConnection.CheckFilter does.
            if (MqttTopic.TryParseSharedSubscription(text, out _, out var inner))
            {
                text = inner;
            }
        }

        topic = text;
        client = new ClientIdentity(clientId, username, address, Listener: "", Rules: null);
        return null;
    }
}
