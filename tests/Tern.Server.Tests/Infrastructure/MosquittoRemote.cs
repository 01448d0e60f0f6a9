using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// /usr/sbin/mosquitto with a generated config on a free 127.0.0.1 port, as the remote end of a bridge.
/// It keeps its sessions in a directory of its own, so that a restart (<see cref="StopAsync"/>, then
/// <see cref="StartAsync()"/>) finds the persistent sessions it had.
/// </summary>
internal sealed class MosquittoRemote : IAsyncDisposable
{
    private const string Executable = "/usr/sbin/mosquitto";
    private readonly string _directory;
    private ProcessRunner? _process;

    private MosquittoRemote(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string Log => _process?.Output ?? "";

    public static async Task<MosquittoRemote> StartAsync()
    {
        ExternalTools.Require(Executable, "mosquitto");

        // A free port can be taken between the probe and mosquitto's bind: retry with a new one.
        for (var attempt = 1; ; attempt++)
        {
            var remote = new MosquittoRemote(Directory.CreateTempSubdirectory("tern-bridge-mosquitto-").FullName, FreePort());
            if (await remote.TryStartAsync())
            {
                return remote;
            }

            var log = remote.Log;
            await remote.DisposeAsync();
            if (attempt == 3)
            {
                throw new MqttTestException($"mosquitto did not start:\n{log}");
            }
        }
    }

    public static int FreePort() => Tern.TestKit.TestPorts.Free();

    /// <summary>Starts it again on the same port with the same store.</summary>
    public async Task RestartAsync()
    {
        if (!await TryStartAsync())
        {
            throw new MqttTestException($"mosquitto did not start again on {Port}:\n{Log}");
        }
    }

    /// <summary>SIGTERM, as a service manager stops it: mosquitto writes its sessions to its store and exits.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using (var kill = Process.Start("/bin/kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync(TestTimeouts.External);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary directory.
        }
    }

    private async Task<bool> TryStartAsync()
    {
        var config = Path.Combine(_directory, "mosquitto.conf");
        await File.WriteAllTextAsync(config, new StringBuilder()
            .AppendLine("user root") // as root, mosquitto would otherwise drop to a user that cannot read the temp dir
            .AppendLine("log_dest stderr")
            .AppendLine("log_type all")
            .AppendLine($"listener {Port} 127.0.0.1")
            .AppendLine("allow_anonymous true")
            .AppendLine("persistence true")
            .AppendLine($"persistence_location {_directory}/")
            .ToString());
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        _process = ProcessRunner.Start(Executable, ["-c", config], "mosquitto");

        // Up to 200 attempts 25 ms apart (5 s): mosquitto binds within milliseconds when it can.
        for (var i = 0; i < 200 && !_process.HasExited; i++)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(25);
            }
        }

        return false;
    }
}
