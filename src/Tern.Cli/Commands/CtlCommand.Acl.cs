using System.CommandLine;
using Spectre.Console;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    /// <summary>EMQX's built-in authorization rules; Tern keeps them in <c>acl_rules.json</c> next to the users file.</summary>
    private const string RulesPath = "/api/v5/authorization/sources/built_in_database/rules";

    private static Command CreateAcl() => new("acl", "The ACL rules kept by the broker (acl_rules.json), per user name, per client id and for all clients; a change applies from the next PUBLISH or SUBSCRIBE.")
    {
        CreateAclList(),
        CreateAclAdd(),
        CreateAclDelete(),
    };

    /// <summary>Whose rules a command is about: <c>--clientid</c>, <c>--username</c> or <c>--all</c>, exactly one where required.</summary>
    private sealed class AclOwnerOptions
    {
        public Option<string?> ClientId { get; } = new("--clientid") { Description = "The rules of this client id.", HelpName = "id" };

        public Option<string?> Username { get; } = new("--username") { Description = "The rules of this user name.", HelpName = "user" };

        public Option<bool> All { get; } = new("--all") { Description = "The rules for every client." };

        public void AddTo(Command command)
        {
            command.Options.Add(ClientId);
            command.Options.Add(Username);
            command.Options.Add(All);
        }

        /// <summary>The owner given, or null when none is (and <paramref name="required"/> is false).</summary>
        public AclOwner? Read(ParseResult result, bool required)
        {
            var clientId = result.GetValue(ClientId);
            var username = result.GetValue(Username);
            var all = result.GetValue(All);
            var given = (clientId is null ? 0 : 1) + (username is null ? 0 : 1) + (all ? 1 : 0);
            if (given > 1 || (required && given == 0))
            {
                throw new CtlException(required ? "Give exactly one of --clientid, --username and --all." : "Give at most one of --clientid, --username and --all.");
            }

            return clientId is not null ? new AclOwner("clientid", clientId)
                : username is not null ? new AclOwner("username", username)
                : all ? new AclOwner("all", null)
                : null;
        }
    }

    /// <summary>A user name's, a client id's (<see cref="Key"/> as in the API) or everyone's (<c>all</c>) rules.</summary>
    private sealed record AclOwner(string Key, string? Who)
    {
        public bool IsAll => Who is null;

        /// <summary>The path of the owner's rules.</summary>
        public string Path => IsAll ? RulesPath + "/all" : $"{RulesPath}/{(Key == "username" ? "users" : "clients")}/{Uri.EscapeDataString(Who!)}";

        /// <summary>The path of every owner of this kind (for a POST of a new one).</summary>
        public string ListPath => $"{RulesPath}/{(Key == "username" ? "users" : "clients")}";

        /// <summary>For messages: "client id 'x'", "user name 'y'", "all clients".</summary>
        public string Describe() => IsAll ? "all clients" : $"{(Key == "username" ? "user name" : "client id")} '{Who}'";

        public string NoRules() => $"No ACL rules for {Describe()}.";
    }

    private static Command CreateAclList()
    {
        var owner = new AclOwnerOptions();
        var page = new PageOptions();
        var command = new Command("list", $"List the rules (GET {RulesPath}/users, /clients and /all), or those of one client id, user name or of --all, in the order they are checked.");
        owner.AddTo(command);
        page.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var chosen = owner.Read(result, required: false);
            var table = CtlOutput.NewTable("for", "permission", "action", "topic");
            if (chosen is not null)
            {
                var answer = await api.GetAsync(chosen.Path, ct, chosen.NoRules).ConfigureAwait(false);
                if (output.IsJson)
                {
                    CtlOutput.WriteJson(answer);
                    return 0;
                }

                AddRuleRows(table, chosen, answer.Json("GET " + chosen.Path));
                output.Write(table);
                return 0;
            }

            var query = new CtlQuery();
            page.AddTo(query, result);
            var users = await api.GetAsync(RulesPath + "/users" + query, ct).ConfigureAwait(false);
            var clients = await api.GetAsync(RulesPath + "/clients" + query, ct).ConfigureAwait(false);
            var all = await api.GetAsync(RulesPath + "/all", ct).ConfigureAwait(false);
            if (output.IsJson)
            {
                // The three documents of the API, as they came, in one object.
                Console.Out.WriteLine($"{{\"users\":{users.Body.Trim()},\"clients\":{clients.Body.Trim()},\"all\":{all.Body.Trim()}}}");
                return 0;
            }

            var userPage = users.Json("GET " + RulesPath + "/users");
            var clientPage = clients.Json("GET " + RulesPath + "/clients");
            foreach (var item in userPage.GetProperty("data").EnumerateArray())
            {
                AddRuleRows(table, new AclOwner("username", CtlOutput.Text(item, "username")), item);
            }

            foreach (var item in clientPage.GetProperty("data").EnumerateArray())
            {
                AddRuleRows(table, new AclOwner("clientid", CtlOutput.Text(item, "clientid")), item);
            }

            AddRuleRows(table, new AclOwner("all", null), all.Json("GET " + RulesPath + "/all"));
            var captions = new[] { CtlOutput.PageCaption(userPage, "user"), CtlOutput.PageCaption(clientPage, "client") };
            table.Caption(string.Join("; ", captions.Where(static c => c is not null)) + " with rules");
            output.Write(table);
            return 0;
        });
        return command;
    }

    private static void AddRuleRows(Table table, AclOwner owner, JsonElement document)
    {
        var who = owner.IsAll ? "all" : $"{owner.Key} {owner.Who}";
        foreach (var rule in document.GetProperty("rules").EnumerateArray())
        {
            CtlOutput.AddRow(table, who, CtlOutput.Text(rule, "permission"), CtlOutput.Text(rule, "action"), CtlOutput.Text(rule, "topic"));
        }
    }

    /// <summary>The <c>--topic</c>, <c>--action</c> and <c>--permission</c> of a rule.</summary>
    private sealed class AclRuleOptions
    {
        public AclRuleOptions(bool required)
        {
            Topic = new("--topic") { Description = "The topic filter; ${username} and ${clientid} in it are replaced by the client's.", HelpName = "filter", Required = required };
            Action = new("--action") { Description = "What the rule is about: publish, subscribe or all.", HelpName = "action", Required = required };
            Permission = new("--permission") { Description = "allow or deny.", HelpName = "permission", Required = required };
            Action.AcceptOnlyFromAmong("publish", "subscribe", "all");
            Permission.AcceptOnlyFromAmong("allow", "deny");
        }

        public Option<string?> Topic { get; }

        public Option<string?> Action { get; }

        public Option<string?> Permission { get; }

        public void AddTo(Command command)
        {
            command.Options.Add(Topic);
            command.Options.Add(Action);
            command.Options.Add(Permission);
        }
    }

    private static Command CreateAclAdd()
    {
        var owner = new AclOwnerOptions();
        var rule = new AclRuleOptions(required: true);
        var first = new Option<bool>("--first") { Description = "Put the rule before the owner's other rules (by default it goes last); the first rule that applies decides." };
        var command = new Command("add", "Add a rule for a client id, a user name or all clients (their rules are read, then written back with the new one).") { first };
        owner.AddTo(command);
        rule.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var chosen = owner.Read(result, required: true)!;
            var added = new JsonObject
            {
                ["topic"] = result.GetValue(rule.Topic),
                ["permission"] = result.GetValue(rule.Permission),
                ["action"] = result.GetValue(rule.Action),
            };
            var rules = await RulesOfAsync(api, chosen, ct).ConfigureAwait(false);
            var what = $"{added["permission"]} {added["action"]} on '{added["topic"]}'";
            if (rules?.Any(r => SameRule(r, added)) == true)
            {
                CtlOutput.Confirm($"The rule {what} for {chosen.Describe()} is there already; nothing changed.");
                return 0;
            }

            var list = rules ?? [];
            list.Insert(result.GetValue(first) ? 0 : list.Count, added);
            await WriteRulesAsync(api, chosen, list, isNew: rules is null, ct).ConfigureAwait(false);
            CtlOutput.Confirm($"Added the rule {what} for {chosen.Describe()}.");
            return 0;
        });
        return command;
    }

    private static Command CreateAclDelete()
    {
        var owner = new AclOwnerOptions();
        var rule = new AclRuleOptions(required: false);
        var command = new Command("delete", "Delete the rules of a client id, a user name or for all clients; with --topic (and --action, --permission), only the rules that match.");
        owner.AddTo(command);
        rule.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var chosen = owner.Read(result, required: true)!;
            var topic = result.GetValue(rule.Topic);
            var action = result.GetValue(rule.Action);
            var permission = result.GetValue(rule.Permission);
            if (topic is null)
            {
                if (action is not null || permission is not null)
                {
                    throw new CtlException("--action and --permission choose among the rules of a --topic: give --topic too.");
                }

                await api.DeleteAsync(chosen.Path, ct, chosen.NoRules).ConfigureAwait(false);
                CtlOutput.Confirm($"Deleted every ACL rule for {chosen.Describe()}.");
                return 0;
            }

            var rules = await RulesOfAsync(api, chosen, ct).ConfigureAwait(false) ?? throw new CtlException(chosen.NoRules());
            var kept = rules.Where(r => !(Field(r, "topic") == topic && (action is null || Field(r, "action") == action) && (permission is null || Field(r, "permission") == permission))).ToList();
            var removed = rules.Count - kept.Count;
            if (removed == 0)
            {
                throw new CtlException($"No rule on '{topic}'{(action is null ? "" : $" for {action}")}{(permission is null ? "" : $" that says {permission}")} for {chosen.Describe()}.");
            }

            if (kept.Count == 0)
            {
                await api.DeleteAsync(chosen.Path, ct, chosen.NoRules).ConfigureAwait(false);
            }
            else
            {
                await WriteRulesAsync(api, chosen, kept, isNew: false, ct).ConfigureAwait(false);
            }

            CtlOutput.Confirm($"Deleted {removed} rule{(removed == 1 ? "" : "s")} on '{topic}' for {chosen.Describe()}.");
            return 0;
        });
        return command;
    }

    /// <summary>The owner's rules as the API has them now (only topic, permission and action), or null when it has none.</summary>
    private static async Task<List<JsonObject>?> RulesOfAsync(CtlApi api, AclOwner owner, CancellationToken ct)
    {
        var answer = await api.FindAsync(owner.Path, ct).ConfigureAwait(false);
        if (answer is null)
        {
            return null;
        }

        var rules = answer.Json("GET " + owner.Path).GetProperty("rules").EnumerateArray()
            .Select(static r => new JsonObject
            {
                ["topic"] = CtlOutput.Text(r, "topic"),
                ["permission"] = CtlOutput.Text(r, "permission"),
                ["action"] = CtlOutput.Text(r, "action"),
            })
            .ToList();

        // The rules for all exist always, perhaps empty: none is "no rules" as for an owner.
        return owner.IsAll || rules.Count > 0 ? rules : null;
    }

    /// <summary>Writes the owner's whole list: POST for a new owner (or for all), PUT to replace an owner's.</summary>
    private static Task<CtlAnswer> WriteRulesAsync(CtlApi api, AclOwner owner, List<JsonObject> rules, bool isNew, CancellationToken ct)
    {
        var array = new JsonArray([.. rules]);
        if (owner.IsAll)
        {
            return api.PostAsync(owner.Path, new JsonObject { ["rules"] = array }.ToJsonString(), ct);
        }

        var document = new JsonObject { [owner.Key] = owner.Who, ["rules"] = array };
        return isNew
            ? api.PostAsync(owner.ListPath, new JsonArray(document).ToJsonString(), ct,
                () => $"{owner.Describe()} got rules from elsewhere in the meantime: run the command again.")
            : api.PutAsync(owner.Path, document.ToJsonString(), ct,
                () => $"The rules of {owner.Describe()} were deleted in the meantime: run the command again.");
    }

    private static bool SameRule(JsonObject a, JsonObject b)
        => Field(a, "topic") == Field(b, "topic") && Field(a, "permission") == Field(b, "permission") && Field(a, "action") == Field(b, "action");

    private static string? Field(JsonObject rule, string name) => rule[name]?.GetValue<string>();
}
