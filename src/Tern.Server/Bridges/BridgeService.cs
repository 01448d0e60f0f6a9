using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Configuration;

namespace Tern.Server.Bridges;

/// <summary>
/// Runs the configured bridges (<c>Bridges</c>). Registered after the broker's service, so the broker
/// has started (and restored its store) before a bridge subscribes, and bridges stop before it does.
/// </summary>
internal sealed class BridgeService(IReadOnlyList<BridgeOptions> options, MqttBroker broker, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly List<Bridge> _bridges = [];

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
        var logger = loggerFactory.CreateLogger("Tern.Server.Bridges");
        foreach (var bridgeOptions in options)
        {
            var bridge = new Bridge(bridgeOptions, broker, logger);
            _bridges.Add(bridge);
            await bridge.StartAsync().ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var bridge in _bridges)
        {
            await bridge.DisposeAsync().ConfigureAwait(false);
        }
    }
}
