using System.Net;
using System.Net.Sockets;
using Tern.Server;

namespace Tern.Cli.Tests;

/// <summary>Tests that read or set process-wide TERN_ variables must not run alongside each other.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Process environment";
}

/// <summary><see cref="TernServer"/> in-process: configuration sources, precedence and errors, listener start/stop.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class TernServerTests : IDisposable
{
    private static readonly Dictionary<string, string?> Loopback = new()
    {
        ["Listeners:Tcp:Address"] = "127.0.0.1",
        ["Listeners:Tcp:Port"] = "0",
        ["Listeners:Ws:Enabled"] = "false",
        ["Dashboard:Enabled"] = "false",
    };

    private readonly List<string> _variables = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("tern-server-test-").FullName;

    public void Dispose()
    {
        foreach (var name in _variables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Defaults_apply_without_any_configuration()
    {
        await using var server = TernServer.Create();

        Assert.Equal(32, server.Broker.Options.MaxInflight);
        Assert.Equal(1024 * 1024, server.Broker.Options.MaxPacketSize);
        Assert.Equal(1883, server.TcpPort);
        Assert.Equal(["mqtt://0.0.0.0:1883", "ws://0.0.0.0:8083/mqtt"], server.ListeningOn);
        Assert.Equal("http://0.0.0.0:18083", server.DashboardUrl);
        Assert.Equal(Path.GetFullPath("data"), server.StorePath);
    }

    [Fact]
    public async Task Precedence_is_file_then_environment_then_args_then_overrides()
    {
        var file = WriteJson("""
            {
              "Broker": { "MaxInflight": 1, "MaxQueuedMessages": 1, "MaxQueuedQoS0Messages": 1, "MaxRetainedMessages": 1 }
            }
            """);
        SetVariable("TERN_Broker__MaxQueuedMessages", "2");
        SetVariable("TERN_Broker__MaxQueuedQoS0Messages", "2");
        SetVariable("TERN_Broker__MaxRetainedMessages", "2");

        await using var server = TernServer.Create(
            ["--Broker:MaxQueuedQoS0Messages=3", "--Broker:MaxRetainedMessages", "3"],
            new Dictionary<string, string?> { ["Broker:MaxRetainedMessages"] = "4" },
            file);

        var options = server.Broker.Options;
        Assert.Equal(1, options.MaxInflight);           // file only
        Assert.Equal(2, options.MaxQueuedMessages);     // env beats file
        Assert.Equal(3, options.MaxQueuedQoS0Messages); // args beat env
        Assert.Equal(4, options.MaxRetainedMessages);   // overrides beat args
        Assert.Equal("4", server.Configuration["Broker:MaxRetainedMessages"]);
    }

    [Fact]
    public async Task All_value_types_bind_case_insensitively()
    {
        await using var server = TernServer.Create(
            ["--broker:queueqos0messages=true", "--Broker:ConnectTimeoutSeconds=2.5", "--Broker:SysIntervalSeconds=0"]);

        Assert.True(server.Broker.Options.QueueQoS0Messages);
        Assert.Equal(2.5, server.Broker.Options.ConnectTimeoutSeconds);
        Assert.Equal(0, server.Broker.Options.SysIntervalSeconds);
    }

    [Theory]
    [InlineData("Broker:MaxInflight", "0", "Invalid configuration: Broker:MaxInflight must be between 1 and 65535.")]
    [InlineData("Broker:MaxInflight", "many", "Invalid configuration: Broker:MaxInflight must be a whole number, not 'many'.")]
    [InlineData("Broker:QueueQoS0Messages", "yes", "Invalid configuration: Broker:QueueQoS0Messages must be true or false, not 'yes'.")]
    [InlineData("Broker:NoSuchKey", "1", "Invalid configuration: Broker:NoSuchKey is not a known setting.")]
    [InlineData("Listeners:Tcp:Port", "70000", "Invalid configuration: Listeners:Tcp:Port must be between 0 and 65535.")]
    [InlineData("Listeners:Tcp:Address", "example.com", "Invalid configuration: Listeners:Tcp:Address must be an IP address")]
    [InlineData("Listeners:Tcp:Enabled", "false", "Invalid configuration: no listener is enabled")]
    [InlineData("Logging:LogLevel:Default", "Loud", "Invalid configuration: Logging:LogLevel:Default must be one of")]
    public void Bad_value_throws_naming_the_key(string key, string value, string message)
    {
        // The WebSocket listener is on by default; off here so that "no listener is enabled" can be reached.
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(overrides: new Dictionary<string, string?> { ["Listeners:Ws:Enabled"] = "false", [key] = value }));

        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(key, ex.Key);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Environment_variable_error_names_the_key()
    {
        SetVariable("TERN_Broker__MaxInflight", "0");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create());

        Assert.Equal("Broker:MaxInflight", ex.Key);
    }

    [Fact]
    public void Missing_config_file_throws_naming_the_file()
    {
        var path = Path.Combine(_dir, "missing.json");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(configFile: path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_config_file_throws()
    {
        var file = WriteJson("{ \"Broker\": { \"MaxInflight\": ");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(configFile: file));

        Assert.StartsWith("Invalid configuration file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_0_binds_a_free_port_that_accepts_connections()
    {
        await using var server = TernServer.Create(overrides: Loopback);
        await server.StartAsync();

        Assert.NotEqual(0, server.TcpPort);
        Assert.Equal([$"mqtt://127.0.0.1:{server.TcpPort}"], server.ListeningOn);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.TcpPort);

        await server.StopAsync();
    }

    [Fact]
    public async Task Connect_gets_connack()
    {
        await using var server = TernServer.Create(overrides: Loopback);
        await server.StartAsync();

        var connAck = await Net.ConnectAndReadConnAckAsync(server.TcpPort, TimeSpan.FromSeconds(10));

        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);
    }

    [Fact]
    public async Task WaitForShutdown_returns_after_StopAsync()
    {
        await using var server = TernServer.Create(overrides: Loopback);
        await server.StartAsync();
        var waiting = server.WaitForShutdownAsync();
        Assert.False(waiting.IsCompleted);

        await server.StopAsync();

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Port_in_use_throws_listener_exception_with_address_and_port()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var server = TernServer.Create(overrides: new Dictionary<string, string?>
        {
            ["Listeners:Tcp:Address"] = "127.0.0.1",
            ["Listeners:Tcp:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Dashboard:Enabled"] = "false",
        });

        var ex = await Assert.ThrowsAsync<TernListenerException>(() => server.StartAsync());

        Assert.Equal(port, ex.Port);
        Assert.Equal("127.0.0.1", ex.Address);
        Assert.Equal("Listeners:Tcp", ex.Listener);
        Assert.Contains("address already in use", ex.Message, StringComparison.Ordinal);
    }

    private string WriteJson(string json)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private void SetVariable(string name, string value)
    {
        _variables.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }
}
