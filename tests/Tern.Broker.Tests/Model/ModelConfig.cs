using System.Globalization;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// Broker settings of a model run and what the model then holds the broker to.
/// </summary>
/// <param name="Name">Shown in reports.</param>
/// <param name="ForbidDrops">Bounds are large enough that nothing may be dropped: every owed delivery must arrive.</param>
/// <param name="Settings">Configuration keys for <see cref="Tern.TestKit.TestBroker"/>.</param>
/// <param name="MaxInflight">Broker:MaxInflight in <paramref name="Settings"/>.</param>
internal sealed record ModelConfig(string Name, bool ForbidDrops, IReadOnlyDictionary<string, string?> Settings, int MaxInflight)
{
    /// <summary>Queues far larger than a run publishes: no drop is allowed.</summary>
    public static ModelConfig Ample { get; } = new("ample", ForbidDrops: true, new Dictionary<string, string?>
    {
        ["Broker:MaxQueuedMessages"] = "1000000",
        ["Broker:MaxQueuedQoS0Messages"] = "1000000",
        ["Broker:MaxInflight"] = "32",
    }, 32);

    /// <summary>Tiny queue and window: messages are dropped, and each one missing must have been counted.</summary>
    public static ModelConfig Tight { get; } = new("tight", ForbidDrops: false, new Dictionary<string, string?>
    {
        ["Broker:MaxQueuedMessages"] = "5",
        ["Broker:MaxInflight"] = "2",

        // Publishers are slowed past 5 queued (the default policy); the model's clients hold their own
        // acknowledgements at times, so a bounded hold keeps their publishes moving.
        ["Broker:MaxAckHoldSeconds"] = "1",
    }, 2);

    /// <summary>Broker settings with the shared subscription strategy the seed picked.</summary>
    public Dictionary<string, string?> SettingsFor(Random rng)
    {
        var settings = new Dictionary<string, string?>(Settings, StringComparer.OrdinalIgnoreCase)
        {
            ["Broker:SharedSubscriptionStrategy"] = rng.Next(2) == 0 ? "RoundRobin" : "Random",
            ["Broker:SysIntervalSeconds"] = "0",
        };
        return settings;
    }

    public override string ToString() =>
        Name + " (" + string.Join(", ", Settings.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value}"))) + ")";
}
