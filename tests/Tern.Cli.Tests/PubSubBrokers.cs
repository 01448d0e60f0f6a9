using System.Net;
using System.Net.Sockets;
using System.Text;
using Tern.Server;

namespace Tern.Cli.Tests;

/// <summary>A broker on 127.0.0.1 for the pub/sub tests: Tern in-process, or a real Mosquitto.</summary>
internal interface IPubSubBroker : IAsyncDisposable
{
    int Port { get; }

    /// <summary>The -h/-p arguments for tern and mosquitto_pub/sub.</summary>
    string[] HostPort => ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
}

internal static class PubSubBrokers
{
    public const string Tern = "tern";
    public const string Mosquitto = "mosquitto";

    public static async Task<IPubSubBroker> StartAsync(string kind) => kind switch
    {
        Tern => await TernBroker.StartAsync(),
        Mosquitto => await MosquittoBroker.StartAsync(allowAnonymous: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "tern or mosquitto"),
    };
}

/// <summary>Tern's broker in this test process, on a port the OS picks.</summary>
internal sealed class TernBroker(TernServer server) : IPubSubBroker
{
    public TernServer Server { get; } = server;

    public int Port => Server.TcpPort;

    /// <param name="settings">More configuration keys, e.g. <c>Broker:MaximumQoS</c>.</param>
    public static async Task<TernBroker> StartAsync(int port = 0, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Listeners:Tcp:Address"] = "127.0.0.1",
            ["Listeners:Tcp:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // The WebSocket listener's fixed default port would collide between parallel tests.
            ["Listeners:Ws:Enabled"] = "false",
            ["Dashboard:Enabled"] = "false",
            // Parallel tests would share ./data; these are about the client, not the store.
            ["Persistence:Mode"] = "memory",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var server = TernServer.Create(overrides: overrides);
        using var cts = new CancellationTokenSource(PubSubProcess.Timeout);
        await server.StartAsync(cts.Token);
        return new TernBroker(server);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(PubSubProcess.Timeout);
        await Server.StopAsync(cts.Token);
        await Server.DisposeAsync();
    }
}

/// <summary>
/// /usr/sbin/mosquitto (Debian package mosquitto) with a generated config on a free port; ready
/// once a TCP connect succeeds (polled with bounded attempts, no fixed sleep).
/// </summary>
internal sealed class MosquittoBroker : IPubSubBroker
{
    private const string Executable = "/usr/sbin/mosquitto";
    private readonly PubSubProcess _process;

    private MosquittoBroker(PubSubProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Log => _process.Stderr + _process.Stdout;

    public static async Task<MosquittoBroker> StartAsync(bool allowAnonymous)
    {
        // A free port can be taken between the probe and mosquitto's bind: retry with a new one.
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort();
            string dir = Directory.CreateTempSubdirectory("tern-cli-mosquitto-").FullName;
            string config = Path.Combine(dir, "mosquitto.conf");
            await File.WriteAllTextAsync(config, new StringBuilder()
                .AppendLine("user root") // as root, mosquitto would otherwise drop to a user that cannot read our temp dir
                .AppendLine("log_dest stderr")
                .AppendLine($"listener {port} 127.0.0.1")
                .AppendLine($"allow_anonymous {(allowAnonymous ? "true" : "false")}")
                .ToString());
            var process = PubSubProcess.Start(Executable, ["-c", config]);
            var broker = new MosquittoBroker(process, port);
            if (await broker.WaitUntilAcceptingAsync())
            {
                return broker;
            }

            await process.DisposeAsync();
            if (attempt == 3)
            {
                throw new InvalidOperationException($"mosquitto did not start on 127.0.0.1:{port}:\n{broker.Log}");
            }
        }
    }

    public static int FreePort() => Tern.TestKit.TestPorts.Free();

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();

    private async Task<bool> WaitUntilAcceptingAsync()
    {
        // Up to 200 attempts 25 ms apart (5 s): mosquitto binds within milliseconds when it can.
        for (int i = 0; i < 200; i++)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                if (_process.Stderr.Contains("Address already in use", StringComparison.Ordinal))
                {
                    return false;
                }

                await Task.Delay(25);
            }
        }

        return false;
    }
}
