using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Security;

/// <summary>
/// Reads the <c>Acl</c> section: <c>Acl:Default</c>, inline <c>Acl:Rules</c>, <c>Acl:File</c> and
/// <c>Acl:ReloadIntervalSeconds</c>. Without any of them only per-client rules from authentication
/// (a JWT <c>acl</c> claim) are enforced and everything else is allowed, <c>$SYS</c> included, as
/// before ACLs existed.
/// </summary>
internal sealed class AclSetup
{
    public const string SectionName = "Acl";
    public const string DefaultKey = "Acl:Default";
    public const string RulesKey = "Acl:Rules";
    public const string ReloadKey = "Acl:ReloadIntervalSeconds";

    private static readonly string[] KnownKeys = ["File", "Default", "Rules", "ReloadIntervalSeconds"];

    private readonly Lock _gate = new();
    private AclFileContent? _fileContent;
    private IReadOnlyList<AclRule> _builtInRules = [];

    private AclSetup(AclAuthorizer authorizer, IReadOnlyList<AclRule> inlineRules, bool configDefault, string? filePath, TimeSpan reloadInterval, bool configured = true, AclFileContent? fileContent = null)
    {
        _fileContent = fileContent;
        Configured = configured;
        Authorizer = authorizer;
        InlineRules = inlineRules;
        ConfigDefault = configDefault;
        FilePath = filePath;
        ReloadInterval = reloadInterval;
    }

    public AclAuthorizer Authorizer { get; }

    /// <summary>False when the <c>Acl</c> section is empty and only per-client rules apply.</summary>
    public bool Configured { get; private set; }

    /// <summary>Rules from <c>Acl:Rules</c>; checked before the file's rules, replaced by a configuration reload.</summary>
    public IReadOnlyList<AclRule> InlineRules { get; private set; }

    /// <summary><c>Acl:Default</c> (allow when absent); the file's <c>"default"</c> wins over it.</summary>
    public bool ConfigDefault { get; private set; }

    /// <summary>The full path of <c>Acl:File</c>, if set; a configuration reload may change it.</summary>
    public string? FilePath { get; private set; }

    /// <summary>How often the file is checked for changes; zero turns reloading off.</summary>
    public TimeSpan ReloadInterval { get; }

    /// <summary>The ACL configured in <paramref name="configuration"/>; with an empty <c>Acl</c> section, one that only enforces per-client rules.</summary>
    /// <exception cref="TernConfigurationException">A bad key or rule, or a missing or invalid file; the message names the key or the file and line.</exception>
    public static AclSetup FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        string? file = null;
        bool? configDefault = null;
        var reloadSeconds = 2.0;
        var hasRules = false;
        foreach (var child in section.GetChildren())
        {
            var key = Array.Find(KnownKeys, k => k.Equals(child.Key, StringComparison.OrdinalIgnoreCase))
                ?? throw new TernConfigurationException($"Invalid configuration: {child.Path} is not a known setting (expected {string.Join(", ", KnownKeys)}).", child.Path);
            switch (key)
            {
                case "File":
                    file = child.Value is { Length: > 0 } f ? f : throw new TernConfigurationException($"Invalid configuration: {child.Path} must be the path of an ACL file.", child.Path);
                    break;
                case "Default":
                    configDefault = AclRuleReader.ReadDefault(child.Value ?? "")
                        ?? throw new TernConfigurationException($"Invalid configuration: {child.Path} must be allow or deny, not '{child.Value}'.", child.Path);
                    break;
                case "ReloadIntervalSeconds":
                    if (!double.TryParse(child.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out reloadSeconds) || reloadSeconds < 0 || reloadSeconds > 86400)
                    {
                        throw new TernConfigurationException($"Invalid configuration: {child.Path} must be a number of seconds between 0 (no reloading) and 86400, not '{child.Value}'.", child.Path);
                    }

                    break;
                default:
                    hasRules = true;
                    break;
            }
        }

        if (file is null && configDefault is null && !hasRules)
        {
            // Still an authorizer: a token's acl claim must be enforced even when the broker has no rules of its own.
            // The interval still counts: a configuration reload may name a file later.
            return new AclSetup(new AclAuthorizer(AclRuleSet.PerClientOnly), [], configDefault: true, filePath: null, TimeSpan.FromSeconds(reloadSeconds), configured: false);
        }

        var inlineRules = ReadInlineRules(section.GetSection("Rules"));
        string? path = file is null ? null : Path.GetFullPath(file);
        var fileContent = path is null ? null : AclFile.Load(path);
        var rules = Combine(inlineRules, fileContent, configDefault ?? true);
        return new AclSetup(new AclAuthorizer(rules), inlineRules, configDefault ?? true, path, TimeSpan.FromSeconds(reloadSeconds), fileContent: fileContent);
    }

    /// <summary>Registers the file watcher, which lives as long as the host (even without a file: a reload may name one).</summary>
    public void AddServices(IServiceCollection services)
    {
        services.AddSingleton<IHostedService>(sp => new AclReloader(this, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Acl"), TimeProvider.System));
    }

    /// <summary>The inline rules, the built-in rules, then the file's, with the file's default if it has one.</summary>
    public AclRuleSet Combine(AclFileContent? fileContent)
    {
        lock (_gate)
        {
            return CombineAll(fileContent, _builtInRules);
        }
    }

    /// <summary>
    /// Applies a reloaded <c>Acl:File</c> to the authorizer, keeping the built-in rules; null when
    /// <paramref name="path"/> is no longer the ACL file (a configuration reload named another meanwhile).
    /// </summary>
    public AclRuleSet? ApplyFile(string path, AclFileContent fileContent)
    {
        lock (_gate)
        {
            if (FilePath != path)
            {
                return null;
            }

            _fileContent = fileContent;
            var rules = CombineAll(fileContent, _builtInRules);
            Authorizer.Update(rules);
            return rules;
        }
    }

    /// <summary>
    /// Takes the <c>Acl</c> section of a reloaded configuration (<paramref name="reloaded"/>, already read and
    /// checked): its inline rules, default and file, keeping the rules managed through the REST API.
    /// <c>Acl:ReloadIntervalSeconds</c> stays as it was started.
    /// </summary>
    public AclRuleSet ApplyConfiguration(AclSetup reloaded)
    {
        lock (_gate)
        {
            Configured = reloaded.Configured;
            InlineRules = reloaded.InlineRules;
            ConfigDefault = reloaded.ConfigDefault;
            FilePath = reloaded.FilePath;
            _fileContent = reloaded._fileContent;
            var rules = CombineAll(_fileContent, _builtInRules);
            Authorizer.Update(rules);
            return rules;
        }
    }

    /// <summary>
    /// Replaces the rules managed through the REST API (<see cref="AclBuiltIn"/>) and applies them at once.
    /// Without an <c>Acl</c> section they are the only global rules and everything else stays allowed.
    /// </summary>
    public void SetBuiltInRules(IReadOnlyList<AclRule> rules)
    {
        lock (_gate)
        {
            _builtInRules = rules;
            Authorizer.Update(CombineAll(_fileContent, rules));
        }
    }

    private AclRuleSet CombineAll(AclFileContent? fileContent, IReadOnlyList<AclRule> builtIn)
    {
        if (!Configured)
        {
            return builtIn.Count == 0 ? AclRuleSet.PerClientOnly : new AclRuleSet(builtIn, defaultAllow: true, protectSys: false);
        }

        return Combine([.. InlineRules, .. builtIn], fileContent, ConfigDefault);
    }

    private static AclRuleSet Combine(IReadOnlyList<AclRule> inlineRules, AclFileContent? fileContent, bool configDefault)
    {
        if (fileContent is null)
        {
            return new AclRuleSet(inlineRules, configDefault);
        }

        return new AclRuleSet([.. inlineRules, .. fileContent.Rules], fileContent.DefaultAllow ?? configDefault);
    }

    private static List<AclRule> ReadInlineRules(IConfigurationSection section)
    {
        if (section.Value is { Length: > 0 })
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {RulesKey} must be a list of rules such as {{ \"Allow\": true, \"User\": \"alice\", \"Action\": \"publish\", \"Topic\": \"sensors/%u/#\" }}.",
                RulesKey);
        }

        // Configuration lists are objects keyed "0", "1", ...: order them by number, not as text ("10" after "9").
        var entries = section.GetChildren()
            .Select(c => (Entry: c, Index: int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1))
            .ToList();
        foreach (var (entry, index) in entries)
        {
            if (index < 0)
            {
                throw new TernConfigurationException($"Invalid configuration: {entry.Path} is not a list entry; {RulesKey} must be a list.", entry.Path);
            }
        }

        var rules = new List<AclRule>();
        foreach (var (entry, _) in entries.OrderBy(e => e.Index))
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var keys = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var child in entry.GetChildren())
            {
                var field = AclRuleReader.Canonical(child.Key);
                if (field is null || child.Value is null)
                {
                    throw new TernConfigurationException(
                        $"Invalid configuration: {child.Path} is not a known setting (expected {string.Join(", ", AclRuleReader.Fields.Select(Pascal))}).",
                        child.Path);
                }

                fields[field] = child.Value;
                keys[field] = child.Path;
            }

            rules.Add(AclRuleReader.Build(fields, entry.Path, AclRuleSource.Config, (field, problem) =>
            {
                var key = field is null ? entry.Path : keys.GetValueOrDefault(field, $"{entry.Path}:{Pascal(field)}");
                var subject = field is null ? entry.Path : key;
                return new TernConfigurationException($"Invalid configuration: {subject} {problem}", key);
            }));
        }

        return rules;
    }

    private static string Pascal(string field) => char.ToUpperInvariant(field[0]) + field[1..];
}
