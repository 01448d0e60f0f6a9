using Tern.Server;

namespace BrokerFixture.Tests;

/// <summary>
/// One broker for a test class (<c>IClassFixture&lt;BrokerFixture&gt;</c>): MQTT on a free port of
/// 127.0.0.1, nothing else listening, nothing written to disk, so test classes run side by side.
/// </summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public TernServer Server { get; } = TernServer.Create(overrides: new Dictionary<string, string?>
    {
        ["Listeners:Tcp:Address"] = "127.0.0.1",
        ["Listeners:Tcp:Port"] = "0",
        ["Listeners:Ws:Enabled"] = "false",
        ["Dashboard:Enabled"] = "false",
        ["Persistence:Mode"] = "memory",
    });

    /// <summary>Where clients connect; the port is known once the broker has started.</summary>
    public string Uri => $"mqtt://127.0.0.1:{Server.TcpPort}";

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
