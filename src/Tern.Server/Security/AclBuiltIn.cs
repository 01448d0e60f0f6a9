using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Tern.Server.Security;

/// <summary>One rule of the built-in rules, in EMQX's words: <c>permission</c> allow or deny, <c>action</c> publish, subscribe or all.</summary>
internal sealed record AclBuiltInRule(string Topic, string Permission, string Action);

/// <summary>Where a compiled rule of <see cref="AclBuiltIn"/> is: list <c>users</c>, <c>clients</c> or <c>all</c>, whose list, which position.</summary>
internal sealed record AclBuiltInPlace(string List, string? Who, int Index, AclBuiltInRule Rule);

/// <summary>
/// The ACL rules managed through <c>/api/v5/authorization/sources/built_in_database/rules</c>: per
/// user name, per client id, and for all clients, as EMQX's built-in database keeps them. Kept in
/// <c>acl_rules.json</c> next to the users file, written atomically, and applied to the broker's
/// authorizer at once (<see cref="AclSetup.SetBuiltInRules"/>): user rules, then client rules, then
/// rules for all, after <c>Acl:Rules</c> and before the rules of <c>Acl:File</c>.
/// </summary>
internal sealed class AclBuiltIn
{
    /// <summary>The file's name; it lives in the directory of the users file.</summary>
    public const string FileName = "acl_rules.json";

    private readonly Lock _gate = new();
    private readonly AclSetup _setup;

    // Every rule this class compiled, to its place; weak keys, so that a replaced set's rules go with it.
    // Kept across changes: a check that raced a change still finds the rule that decided it.
    private readonly ConditionalWeakTable<AclRule, AclBuiltInPlace> _places = new();
    private State _state;

    private AclBuiltIn(string path, AclSetup setup, State state)
    {
        FilePath = path;
        _setup = setup;
        _state = state;
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>Rules by user name, in the order they were first given.</summary>
    public IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> Users => _state.Users;

    /// <summary>Rules by client id.</summary>
    public IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> Clients => _state.Clients;

    /// <summary>Rules for every client.</summary>
    public IReadOnlyList<AclBuiltInRule> All => _state.All;

    /// <summary>Loads <paramref name="path"/> (no rules when it does not exist) and applies its rules to <paramref name="setup"/>.</summary>
    /// <exception cref="TernConfigurationException">The file is unreadable or holds a bad rule; the message names the file and the rule.</exception>
    public static AclBuiltIn Load(string path, AclSetup setup)
    {
        path = Path.GetFullPath(path);
        var state = State.Empty;
        if (File.Exists(path))
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                state = ReadFile(document.RootElement, path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new TernConfigurationException($"Invalid ACL rules file {path}: {ex.Message}. Fix it, or move it away to start without the rules added through the REST API.", path, ex);
            }
        }

        var builtIn = new AclBuiltIn(path, setup, state);
        setup.SetBuiltInRules(builtIn.Compile(state));
        return builtIn;
    }

    /// <summary>Checks one rule as the REST API received it; returns the problem naming the field, or null.</summary>
    public static string? Check(AclBuiltInRule rule)
    {
        try
        {
            _ = Build(rule, AclRuleReader.AllField, "true", "");
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>Where <paramref name="rule"/> (one the authorizer applied) is in these lists; false for a rule from elsewhere.</summary>
    public bool TryFind(AclRule rule, [NotNullWhen(true)] out AclBuiltInPlace? place) => _places.TryGetValue(rule, out place);

    /// <summary>Replaces the rules of each user given (an empty list removes the user's rules).</summary>
    public void SetUsers(IReadOnlyDictionary<string, IReadOnlyList<AclBuiltInRule>> users)
        => Change(s => s with { Users = Merge(s.Users, users) });

    /// <summary>Replaces the rules of each client id given (an empty list removes the client's rules).</summary>
    public void SetClients(IReadOnlyDictionary<string, IReadOnlyList<AclBuiltInRule>> clients)
        => Change(s => s with { Clients = Merge(s.Clients, clients) });

    /// <summary>Removes every user's rules.</summary>
    public void ClearUsers() => Change(static s => s with { Users = [] });

    /// <summary>Removes every client's rules.</summary>
    public void ClearClients() => Change(static s => s with { Clients = [] });

    /// <summary>Replaces the rules for all clients.</summary>
    public void SetAll(IReadOnlyList<AclBuiltInRule> rules) => Change(s => s with { All = rules });

    private static List<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> Merge(
        IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> current, IReadOnlyDictionary<string, IReadOnlyList<AclBuiltInRule>> changes)
    {
        var merged = current.Where(p => !changes.ContainsKey(p.Key) || changes[p.Key].Count > 0)
            .Select(p => changes.TryGetValue(p.Key, out var rules) ? new KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>(p.Key, rules) : p)
            .ToList();
        foreach (var (key, rules) in changes)
        {
            if (rules.Count > 0 && !current.Any(p => p.Key == key))
            {
                merged.Add(new(key, rules));
            }
        }

        return merged;
    }

    private static AclRule Build(AclBuiltInRule rule, string whoField, string who, string origin)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [AclRuleReader.AllowField] = rule.Permission switch
            {
                "allow" => "true",
                "deny" => "false",
                _ => throw new ArgumentException($"permission must be allow or deny, not '{rule.Permission}'."),
            },
            [AclRuleReader.ActionField] = rule.Action,
            [AclRuleReader.TopicField] = rule.Topic.Replace("${username}", "%u", StringComparison.Ordinal).Replace("${clientid}", "%c", StringComparison.Ordinal),
            [whoField] = who,
        };
        return AclRuleReader.Build(fields, origin, AclRuleSource.BuiltIn, (field, problem) => new ArgumentException(field switch
        {
            AclRuleReader.TopicField => $"topic '{rule.Topic}': {problem}",
            AclRuleReader.ActionField => $"action {problem}",
            null => problem,
            _ => $"{field} {problem}",
        }));
    }

    private static State ReadFile(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected { \"users\": [...], \"clients\": [...], \"all\": [...] }");
        }

        return new State(ReadOwners(root, "users", "username", path), ReadOwners(root, "clients", "clientid", path), root.TryGetProperty("all", out var all) ? ReadRules(all, "all", path) : []);
    }

    private static List<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> ReadOwners(JsonElement root, string name, string key, string path)
    {
        var owners = new List<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>>();
        if (!root.TryGetProperty(name, out var list))
        {
            return owners;
        }

        var index = 0;
        foreach (var owner in list.EnumerateArray())
        {
            var who = owner.GetProperty(key).GetString() ?? throw new JsonException($"{name}[{index}].{key} must be a string");
            owners.Add(new(who, ReadRules(owner.GetProperty("rules"), $"{name}[{index}].rules", path)));
            index++;
        }

        return owners;
    }

    private static List<AclBuiltInRule> ReadRules(JsonElement list, string where, string path)
    {
        var rules = new List<AclBuiltInRule>();
        foreach (var item in list.EnumerateArray())
        {
            var rule = new AclBuiltInRule(item.GetProperty("topic").GetString()!, item.GetProperty("permission").GetString()!, item.GetProperty("action").GetString()!);
            if (Check(rule) is { } problem)
            {
                throw new JsonException($"{where}[{rules.Count}]: {problem}");
            }

            rules.Add(rule);
        }

        return rules;
    }

    private void Change(Func<State, State> change)
    {
        lock (_gate)
        {
            var state = change(_state);
            var compiled = Compile(state);
            Save(state);
            _state = state;
            _setup.SetBuiltInRules(compiled);
        }
    }

    private List<AclRule> Compile(State state)
    {
        var name = Path.GetFileName(FilePath);
        var rules = new List<AclRule>();
        foreach (var (user, list) in state.Users)
        {
            rules.AddRange(list.Select((r, i) => Place(Build(r, AclRuleReader.UserField, user, $"{name} users[{user}][{i}]"), new("users", user, i, r))));
        }

        foreach (var (client, list) in state.Clients)
        {
            rules.AddRange(list.Select((r, i) => Place(Build(r, AclRuleReader.ClientIdField, client, $"{name} clients[{client}][{i}]"), new("clients", client, i, r))));
        }

        rules.AddRange(state.All.Select((r, i) => Place(Build(r, AclRuleReader.AllField, "true", $"{name} all[{i}]"), new("all", null, i, r))));
        return rules;
    }

    private AclRule Place(AclRule rule, AclBuiltInPlace place)
    {
        _places.AddOrUpdate(rule, place);
        return rule;
    }

    private void Save(State state)
    {
        ManagedJsonFile.Write(FilePath, writer =>
        {
            writer.WriteStartObject();
            WriteOwners(writer, "users", "username", state.Users);
            WriteOwners(writer, "clients", "clientid", state.Clients);
            writer.WritePropertyName("all");
            WriteRules(writer, state.All);
            writer.WriteEndObject();
        });
    }

    private static void WriteOwners(Utf8JsonWriter writer, string name, string key, IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> owners)
    {
        writer.WriteStartArray(name);
        foreach (var (who, rules) in owners)
        {
            writer.WriteStartObject();
            writer.WriteString(key, who);
            writer.WritePropertyName("rules");
            WriteRules(writer, rules);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteRules(Utf8JsonWriter writer, IReadOnlyList<AclBuiltInRule> rules)
    {
        writer.WriteStartArray();
        foreach (var rule in rules)
        {
            writer.WriteStartObject();
            writer.WriteString("topic", rule.Topic);
            writer.WriteString("permission", rule.Permission);
            writer.WriteString("action", rule.Action);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private sealed record State(
        IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> Users,
        IReadOnlyList<KeyValuePair<string, IReadOnlyList<AclBuiltInRule>>> Clients,
        IReadOnlyList<AclBuiltInRule> All)
    {
        public static readonly State Empty = new([], [], []);
    }
}
