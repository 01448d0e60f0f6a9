using Tern.Broker.Persistence;
using Tern.Server;

namespace Tern.TestKit;

/// <summary>
/// A real <see cref="TernServer"/> listening on 127.0.0.1 on a free port. Each test starts its own,
/// so tests never share sessions, retained messages or ports.
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    // A store directory this broker made for itself (TERN_TEST_PERSISTENCE), deleted with it.
    private string? _ownDirectory;

    private TestBroker(TernServer server)
    {
        Server = server;
    }

    public TernServer Server { get; }

    /// <summary>The TCP port the broker is bound to.</summary>
    public int Port => Server.TcpPort;

    /// <summary>
    /// Starts a broker. <paramref name="settings"/> are configuration keys such as
    /// <c>Broker:MaxInflight</c>; they override the test defaults (TCP on 127.0.0.1, port 0).
    /// <paramref name="beforeStart"/> sees the server before it starts (to capture its startup log);
    /// <paramref name="time"/> is the broker's clock (a fake one drives keep alive, expiry and will delay);
    /// <paramref name="store"/> replaces the configured store (a test's own, that can be made to fail).
    /// </summary>
    public static async Task<TestBroker> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, Action<TernServer>? beforeStart = null, TimeProvider? time = null, IBrokerStore? store = null)
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Listeners:Tcp:Address"] = "127.0.0.1",
            ["Listeners:Tcp:Port"] = "0",

            // On by default in the product (ports 8083, 18083); tests that want them turn them on with port 0.
            ["Listeners:Ws:Enabled"] = "false",
            ["Dashboard:Enabled"] = "false",

            // A fixture leaves the test process's garbage collector alone.
            ["Memory:TrimAfterMiB"] = "0",
        };

        // Durable, as the product runs by default, in a store of its own (deleted with the broker),
        // unless the test chooses; TERN_TEST_PERSISTENCE=memory (or strict) runs the others that way.
        string? ownDirectory = null;
        var mode = Environment.GetEnvironmentVariable("TERN_TEST_PERSISTENCE") is { Length: > 0 } chosen ? chosen : "durable";
        if (settings?.ContainsKey("Persistence:Mode") != true && store is null)
        {
            overrides["Persistence:Mode"] = mode;
            if (!string.Equals(mode, "memory", StringComparison.OrdinalIgnoreCase))
            {
                ownDirectory = Directory.CreateTempSubdirectory("tern-test-store-").FullName;
                overrides["Persistence:Directory"] = ownDirectory;
            }
        }

        if (settings is not null)
        {
            foreach (var (key, value) in settings)
            {
                overrides[key] = value;
            }
        }

        TernServer server;
        try
        {
            server = TernServer.Create(args: [], overrides: overrides, timeProvider: time, store: store);
        }
        catch
        {
            DeleteDirectory(ownDirectory);
            throw;
        }

        try
        {
            beforeStart?.Invoke(server);
            using var cts = new CancellationTokenSource(TestTimeouts.BrokerStart);
            await server.StartAsync(cts.Token).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            DeleteDirectory(ownDirectory);
            throw;
        }

        if (server.TcpPort <= 0)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            DeleteDirectory(ownDirectory);
            throw new InvalidOperationException($"TernServer.TcpPort is {server.TcpPort} after StartAsync; expected the bound port.");
        }

        return new TestBroker(server) { _ownDirectory = ownDirectory };
    }

    /// <summary>Opens a raw TCP connection to this broker (no CONNECT sent yet).</summary>
    public Task<RawMqttClient> OpenRawAsync() => RawMqttClient.OpenAsync(Port);

    /// <summary>Opens a connection and completes CONNECT/CONNACK (asserting return code 0).</summary>
    public async Task<RawMqttClient> ConnectAsync(
        string clientId,
        bool cleanSession = true,
        ushort keepAlive = 0,
        Tern.Protocol.WillMessage? will = null,
        Tern.Protocol.MqttProtocolVersion version = Tern.Protocol.MqttProtocolVersion.V311)
    {
        var client = await RawMqttClient.OpenAsync(Port).ConfigureAwait(false);
        try
        {
            var connAck = await client.ConnectAsync(clientId, cleanSession, keepAlive, will, version).ConfigureAwait(false);
            if (connAck.ReasonCode != 0)
            {
                throw new InvalidOperationException($"CONNECT of '{clientId}' was refused with CONNACK return code 0x{connAck.ReasonCode:X2}.");
            }
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return client;
    }

    /// <summary>
    /// Leaves a persistent session (MQTT 3.1.1, clean session 0) subscribed to <paramref name="filter"/>
    /// and disconnected: what an offline device looks like to the broker.
    /// </summary>
    public async Task LeaveOfflineAsync(string clientId, string filter, Tern.Protocol.MqttQoS qos = Tern.Protocol.MqttQoS.AtLeastOnce)
    {
        await using var client = await ConnectAsync(clientId, cleanSession: false).ConfigureAwait(false);
        await client.SubscribeGrantedAsync(filter, qos).ConfigureAwait(false);
        await client.DisconnectAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.BrokerStop);
            await Server.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposal below still releases the listener.
        }
        finally
        {
            await Server.DisposeAsync().ConfigureAwait(false);
            DeleteDirectory(_ownDirectory);
        }
    }

    private static void DeleteDirectory(string? directory)
    {
        if (directory is not null && Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
