using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// <see cref="TernServer.Reload"/> on an embedded server: which changed keys apply live, which wait for a
/// restart, and a broker limit that changes under clients already connected.
/// </summary>
public sealed class ConfigurationReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string ConfigPath => Path.Combine(_directory, "tern.json");

    private void WriteConfig(string broker) => File.WriteAllText(ConfigPath, $$"""
        {
          "Listeners": { "Tcp": { "Address": "127.0.0.1", "Port": 0 }, "Ws": { "Enabled": false } },
          "Dashboard": { "Enabled": false },
          "Persistence": { "Mode": "Memory" },
          "Broker": { {{broker}} }
        }
        """);

    [Fact]
    public async Task A_lower_MaxConnections_keeps_the_connected_client_and_refuses_the_next_and_a_timeout_waits_for_a_restart()
    {
        WriteConfig("\"MaxConnections\": 0, \"ConnectTimeoutSeconds\": 10");
        await using var server = TernServer.Create(configFile: ConfigPath);
        await server.StartAsync();
        await using var first = await RawMqttClient.OpenAsync(server.TcpPort);
        Assert.Equal(0, (await first.ConnectAsync(TestIds.Client("first"))).ReasonCode);

        WriteConfig("\"MaxConnections\": 1, \"ConnectTimeoutSeconds\": 5");
        var result = server.Reload();

        Assert.Null(result.Error);
        Assert.Equal(["Broker:MaxConnections"], result.Applied);
        Assert.Equal(["Broker:ConnectTimeoutSeconds"], result.NeedRestart);
        Assert.Equal(1, server.Broker.Options.MaxConnections);
        Assert.Equal(10, server.Broker.Options.ConnectTimeoutSeconds);

        await first.PingAsync();
        await using var second = await RawMqttClient.OpenAsync(server.TcpPort);
        Assert.True(await second.WaitForCloseAsync(), "a second connection must be closed at accept\n" + second.Transcript);
        await first.PingAsync();
    }

    [Fact]
    public async Task An_invalid_value_changes_nothing_and_names_the_key()
    {
        WriteConfig("\"MaxConnections\": 0");
        await using var server = TernServer.Create(configFile: ConfigPath);
        await server.StartAsync();

        WriteConfig("\"MaxConnections\": -1");
        var result = server.Reload();

        Assert.Equal("Invalid configuration: Broker:MaxConnections must be 0 (no limit) or more.", result.Error);
        Assert.Empty(result.Applied);
        Assert.Equal(0, server.Broker.Options.MaxConnections);
        Assert.Equal("0", server.Configuration["Broker:MaxConnections"]);
    }
}
