using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Bridges;
using Tern.Server.Hosting;
using Tern.Server.Security;

namespace Tern.Server.Configuration;

/// <summary>
/// Re-reads the configuration (on SIGHUP, a change of the configuration file, or <see cref="TernServer.Reload"/>)
/// and applies what can change without closing a connection: log levels, the <c>Acl</c> section and its
/// file, the users file, the <see cref="LiveBrokerKeys"/>, and <c>Bridges</c> (only the bridges added,
/// removed or changed start or stop; a client of the broker never notices). Everything else is reported as needing a
/// restart and keeps its old effect. A configuration that does not load or validate changes nothing.
/// </summary>
internal sealed class ConfigurationReloader
{
    /// <summary>
    /// Broker limits read afresh at each CONNECT, SUBSCRIBE, PUBLISH or queued message, so a new value
    /// simply applies from the next one. The others are copied into longer-lived state at startup
    /// (timer periods, token buckets, per-address counts, the retained store) or were promised to
    /// connected clients in CONNACK, and need a restart.
    /// </summary>
    public static readonly string[] LiveBrokerKeys =
    [
        nameof(BrokerOptions.MaxConnections),
        nameof(BrokerOptions.MaxSessions),
        nameof(BrokerOptions.MaxSessionExpirySeconds),
        nameof(BrokerOptions.MaxInflight),
        nameof(BrokerOptions.MaxSubscriptionsPerClient),
        nameof(BrokerOptions.MaxTopicLevels),
        nameof(BrokerOptions.MaxUserProperties),
        nameof(BrokerOptions.MaxQueuedMessages),
        nameof(BrokerOptions.MaxQueuedMessagesOnline),
        nameof(BrokerOptions.MaxQueuedBytes),
        nameof(BrokerOptions.MaxQueuedQoS0Messages),
        nameof(BrokerOptions.MaxAckHoldSeconds),
    ];

    private readonly Func<IConfigurationRoot> _read;
    private readonly IConfigurationRoot _live;
    private readonly IConfiguration _merged;
    private readonly MqttBroker _broker;
    private readonly AclSetup _acl;
    private readonly UsersStore? _users;
    private readonly BridgeService? _bridges;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    /// <param name="read">Builds the configuration afresh from the same sources (file, environment, args, overrides).</param>
    /// <param name="live">The root the host was built on; reloading it re-reads the file and fires the change tokens the loggers follow.</param>
    /// <param name="merged">What the host reads (<paramref name="live"/>, maybe with derived free ports on top).</param>
    /// <param name="broker">The broker whose limits and log levels change live.</param>
    /// <param name="acl">The ACL the new rules and file go to.</param>
    /// <param name="users">The users file to re-read, if there is one.</param>
    /// <param name="bridges">The running bridges; without them a change of <c>Bridges</c> needs a restart.</param>
    /// <param name="logger">Where the one line of each reload goes.</param>
    public ConfigurationReloader(Func<IConfigurationRoot> read, IConfigurationRoot live, IConfiguration merged, MqttBroker broker, AclSetup acl, UsersStore? users, BridgeService? bridges, ILogger logger)
    {
        _read = read;
        _live = live;
        _merged = merged;
        _broker = broker;
        _acl = acl;
        _users = users;
        _bridges = bridges;
        _logger = logger;
    }

    public TernReloadResult Reload()
    {
        // SIGHUP and the file poller may both fire for one edit; one reload at a time.
        lock (_gate)
        {
            IConfigurationRoot next;
            BrokerOptions nextBroker;
            AclSetup nextAcl;
            List<BridgeOptions> nextBridges;
            try
            {
                next = _read();
                TernLogging.Validate(next.GetSection($"{TernLogging.SectionName}:LogLevel"));
                nextBroker = TernConfiguration.Bind<BrokerOptions>(next, BrokerOptions.SectionName);
                TernConfiguration.Validate(nextBroker.Validate, BrokerOptions.SectionName);
                nextAcl = AclSetup.FromConfiguration(next);
                nextBridges = BridgeService.FromConfiguration(next);
            }
            catch (TernConfigurationException ex)
            {
                Log.ReloadFailed(_logger, ex.Message);
                return new TernReloadResult([], [], ex.Message);
            }

            var before = Flatten(_merged);
            var after = Flatten(next);
            var changed = ChangedKeys(before, after);
            var changedBridges = ChangedBridges(before, after);
            var applied = new SortedSet<string>(StringComparer.Ordinal);
            var restart = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var key in changed)
            {
                (IsLive(key) ? applied : restart).Add(Shorten(key));
            }

            // Re-reads the file into the host's configuration: log levels follow its change token.
            _live.Reload();
            ApplyBrokerLimits(nextBroker);
            var rules = _acl.ApplyConfiguration(nextAcl);
            _users?.Reload();

            // Waits for removed and changed bridges to close and new ones to begin connecting (not to
            // connect): SIGHUP and the file watcher call this on their own threads.
            var bridges = _bridges?.ApplyAsync(nextBridges, changedBridges.Contains).GetAwaiter().GetResult();

            var acl = _acl.Configured ? $"{rules.Rules.Length} rules, default {(rules.DefaultAllow ? "allow" : "deny")}" : "not configured";
            var users = _users is null ? "none" : $"{_users.Count} users";
            Log.Reloaded(
                _logger,
                applied.Count == 0 ? "nothing" : string.Join(", ", applied),
                acl,
                users,
                bridges?.ToString() ?? "not reloaded",
                restart.Count == 0 ? "nothing" : string.Join(", ", restart));
            return new TernReloadResult([.. applied], [.. restart], null);
        }
    }

    private void ApplyBrokerLimits(BrokerOptions next)
    {
        // Plain property writes: each limit is a single int, long, uint or double, read without a lock
        // by the connection that checks it, which sees the old or the new value.
        var live = _broker.Options;
        foreach (var name in LiveBrokerKeys)
        {
            var property = typeof(BrokerOptions).GetProperty(name)!;
            property.SetValue(live, property.GetValue(next));
        }
    }

    private bool IsLive(string key)
    {
        var parts = key.Split(':');
        return parts[0].ToUpperInvariant() switch
        {
            "BRIDGES" => _bridges is not null,
            "LOGGING" => true,
            "ACL" => parts.Length < 2 || !parts[1].Equals("ReloadIntervalSeconds", StringComparison.OrdinalIgnoreCase),
            "BROKER" => parts.Length == 2 && Array.Exists(LiveBrokerKeys, k => k.Equals(parts[1], StringComparison.OrdinalIgnoreCase)),
            _ => false,
        };
    }

    /// <summary>A list entry's key stops at the list (<c>Acl:Rules</c>, not <c>Acl:Rules:3:Topic</c>).</summary>
    private static string Shorten(string key)
    {
        var parts = key.Split(':');
        var end = Array.FindIndex(parts, p => p.Length > 0 && p.All(char.IsAsciiDigit));
        return end < 0 ? key : string.Join(':', parts[..end]);
    }

    /// <summary>
    /// The names of the bridges whose settings differ between two configurations (added ones too),
    /// whatever their position in the list: a bridge moved up keeps its connection.
    /// </summary>
    private static HashSet<string> ChangedBridges(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        var old = BridgeSections(before);
        var changed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, settings) in BridgeSections(after))
        {
            if (!old.TryGetValue(name, out var previous) || previous != settings)
            {
                changed.Add(name);
            }
        }

        return changed;
    }

    /// <summary>Each bridge's name to its settings as one string (<c>ADDRESS=host:1883</c> lines, sorted).</summary>
    private static Dictionary<string, string> BridgeSections(Dictionary<string, string> flat)
    {
        var byIndex = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in flat)
        {
            var parts = key.Split(':', 3);
            if (parts.Length < 3 || !parts[0].Equals(BridgeOptions.SectionName, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!byIndex.TryGetValue(parts[1], out var lines))
            {
                byIndex[parts[1]] = lines = [];
            }

            lines.Add($"{parts[2].ToUpperInvariant()}={value}");
            if (parts[2].Equals(nameof(BridgeOptions.Name), StringComparison.OrdinalIgnoreCase))
            {
                names[parts[1]] = value;
            }
        }

        var sections = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (index, lines) in byIndex)
        {
            if (names.TryGetValue(index, out var name))
            {
                lines.Sort(StringComparer.Ordinal);
                sections[name] = string.Join('\n', lines);
            }
        }

        return sections;
    }

    private static Dictionary<string, string> Flatten(IConfiguration configuration)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is not null)
            {
                values[key] = value;
            }
        }

        return values;
    }

    private static List<string> ChangedKeys(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        var changed = new List<string>();
        foreach (var (key, value) in after)
        {
            if (!before.TryGetValue(key, out var old) || old != value)
            {
                changed.Add(key);
            }
        }

        foreach (var key in before.Keys)
        {
            if (!after.ContainsKey(key))
            {
                changed.Add(key);
            }
        }

        return changed;
    }
}
