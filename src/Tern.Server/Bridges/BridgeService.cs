using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Configuration;

namespace Tern.Server.Bridges;

/// <summary>
/// Runs the configured bridges (<c>Bridges</c>). Registered after the broker's service, so the broker
/// has started (and restored its store) before a bridge subscribes, and bridges stop before it does.
/// A configuration reload (<see cref="ApplyAsync"/>) starts and stops only the bridges it added,
/// removed or changed.
/// </summary>
internal sealed class BridgeService(IReadOnlyList<BridgeOptions> options, MqttBroker broker, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Tern.Server.Bridges");

    // Start, stop and reload one at a time; readers (the REST API, metrics) take the array as it is.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Bridge[] _bridges = [];
    private bool _stopped;

    /// <summary>The configured bridges, in configuration order.</summary>
    public IReadOnlyList<Bridge> Bridges => _bridges;

    /// <summary>Reads and checks <c>Bridges</c>: errors name the key (<c>Bridges:0:Topics:1:Direction</c>).</summary>
    public static List<BridgeOptions> FromConfiguration(IConfiguration configuration)
    {
        var bridges = TernConfiguration.BindList<BridgeOptions>(configuration, BridgeOptions.SectionName);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < bridges.Count; i++)
        {
            var path = $"{BridgeOptions.SectionName}:{i}";
            TernConfiguration.Validate(bridges[i].Validate, path);
            if (!names.Add(bridges[i].Name!))
            {
                throw new TernConfigurationException($"Invalid configuration: two bridges are named '{bridges[i].Name}'.", $"{path}:Name");
            }
        }

        return bridges;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = new List<Bridge>();
            foreach (var bridgeOptions in options)
            {
                started.Add(await StartBridgeAsync(bridgeOptions).ConfigureAwait(false));
                _bridges = [.. started];
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            _stopped = true;
            foreach (var bridge in _bridges)
            {
                await bridge.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Brings the running bridges to <paramref name="next"/>: a bridge whose name is gone stops, a new
    /// name starts, a bridge that <paramref name="changed"/> says changed restarts with its new settings,
    /// and the others keep their connection and queue. Bridges match by name.
    /// </summary>
    public async Task<BridgeChanges> ApplyAsync(IReadOnlyList<BridgeOptions> next, Func<string, bool> changed)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return new BridgeChanges([], [], []);
            }

            var running = _bridges.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
            var nextNames = next.Select(o => o.Name!).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var stopped = new List<string>();
            var restarted = new List<string>();
            var added = new List<string>();

            // Stopped before any starts: a changed bridge reconnects with the same client id, which the
            // remote would otherwise take as a takeover of the old connection.
            foreach (var bridge in _bridges)
            {
                var keeps = nextNames.Contains(bridge.Name);
                if (keeps && !changed(bridge.Name))
                {
                    continue;
                }

                await bridge.DisposeAsync().ConfigureAwait(false);
                running.Remove(bridge.Name);
                (keeps ? restarted : stopped).Add(bridge.Name);
                if (!keeps)
                {
                    BridgeLog.Removed(_logger, bridge.Name);
                }
            }

            var result = new Bridge[next.Count];
            for (var i = 0; i < next.Count; i++)
            {
                if (running.TryGetValue(next[i].Name!, out var kept))
                {
                    result[i] = kept;
                    continue;
                }

                if (!restarted.Contains(next[i].Name!, StringComparer.OrdinalIgnoreCase))
                {
                    added.Add(next[i].Name!);
                }

                result[i] = await StartBridgeAsync(next[i]).ConfigureAwait(false);
            }

            _bridges = result;
            return new BridgeChanges(added, stopped, restarted);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<Bridge> StartBridgeAsync(BridgeOptions bridgeOptions)
    {
        var bridge = new Bridge(bridgeOptions, broker, _logger);
        await bridge.StartAsync().ConfigureAwait(false);
        return bridge;
    }
}

/// <summary>What a reload did to the bridges, by name.</summary>
internal sealed record BridgeChanges(IReadOnlyList<string> Started, IReadOnlyList<string> Stopped, IReadOnlyList<string> Restarted)
{
    public override string ToString()
    {
        var parts = new List<string>();
        if (Started.Count > 0)
        {
            parts.Add("started " + string.Join(", ", Started));
        }

        if (Restarted.Count > 0)
        {
            parts.Add("restarted " + string.Join(", ", Restarted));
        }

        if (Stopped.Count > 0)
        {
            parts.Add("stopped " + string.Join(", ", Stopped));
        }

        return parts.Count == 0 ? "unchanged" : string.Join("; ", parts);
    }
}

/// <summary>Bridge log messages of the service.</summary>
internal static partial class BridgeLog
{
    [LoggerMessage(EventId = 1509, Level = LogLevel.Information, Message = "Bridge {Name} stopped: it is no longer in the configuration")]
    public static partial void Removed(ILogger logger, string name);
}
