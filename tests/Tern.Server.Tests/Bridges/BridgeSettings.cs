using System.Globalization;

namespace Tern.Server.Tests.Bridges;

/// <summary>The configuration keys of one bridge to 127.0.0.1, with a quick reconnect so that tests do not wait on the backoff.</summary>
internal static class BridgeSettings
{
    public static Dictionary<string, string?> For(int index, string name, int port, params (string Pattern, string Direction, int QoS)[] topics)
    {
        var p = $"Bridges:{index}:";
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            [p + "Name"] = name,
            [p + "Address"] = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            [p + "ClientId"] = $"tern-bridge-{name}-{Guid.NewGuid():N}",
            [p + "ReconnectMinSeconds"] = "0.1",
            [p + "ReconnectMaxSeconds"] = "0.5",
        };
        for (var i = 0; i < topics.Length; i++)
        {
            var t = $"{p}Topics:{i}:";
            settings[t + "Pattern"] = topics[i].Pattern;
            settings[t + "Direction"] = topics[i].Direction;
            settings[t + "QoS"] = topics[i].QoS.ToString(CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>Adds <paramref name="more"/> to <paramref name="settings"/> and returns it.</summary>
    public static Dictionary<string, string?> With(this Dictionary<string, string?> settings, IReadOnlyDictionary<string, string?> more)
    {
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }
}
