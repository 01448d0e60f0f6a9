using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tern.Client.Tests;

/// <summary>
/// A real Mosquitto on free 127.0.0.1 ports with a generated config. Start waits for the
/// "running" log line, then for the port to accept (bounded attempts); nothing sleeps a fixed time.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/mosquitto";

    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("tern-mosquitto-").FullName;
    private readonly StringBuilder _log = new();
    private Process? _process;

    public MosquittoBroker(string extraConfig = "", bool persistence = false, bool allowAnonymous = true)
    {
        Port = FreePort();
        ExtraConfig = extraConfig;
        Persistence = persistence;
        AllowAnonymous = allowAnonymous;
    }

    public int Port { get; }

    public string ExtraConfig { get; }

    public bool Persistence { get; }

    public bool AllowAnonymous { get; }

    public string Directory => _directory;

    public string Uri => $"mqtt://127.0.0.1:{Port}";

    public string Log
    {
        get { lock (_log) { return _log.ToString(); } }
    }

    public static int FreePort() => Tern.TestKit.TestPorts.Free();

    public async Task StartAsync()
    {
        string config = Path.Combine(_directory, "mosquitto.conf");
        var text = new StringBuilder()
            // Started as root, mosquitto drops to user "mosquitto", which cannot write our temp dir.
            .AppendLine("user root")
            .AppendLine("log_dest stderr")
            .AppendLine("log_type all")
            .AppendLine("per_listener_settings false")
            .AppendLine($"allow_anonymous {(AllowAnonymous ? "true" : "false")}");
        if (Persistence)
        {
            text.AppendLine("persistence true").AppendLine($"persistence_location {_directory}/");
        }

        text.AppendLine($"listener {Port} 127.0.0.1").AppendLine(ExtraConfig);
        await File.WriteAllTextAsync(config, text.ToString());

        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var psi = new ProcessStartInfo(Executable, ["-c", config])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_log)
            {
                _log.AppendLine(e.Data);
            }

            if (e.Data.Contains(" running", StringComparison.Ordinal))
            {
                running.TrySetResult();
            }
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.Exited += (_, _) => running.TrySetException(new InvalidOperationException("mosquitto exited:\n" + Log));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        await running.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitForPortAsync(Port);
    }

    /// <summary>Polls a connect, a bounded number of times (the listener is open once "running" is logged).</summary>
    public static async Task WaitForPortAsync(int port)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception) when (attempt < 50)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>Stops the broker: SIGTERM so it writes its persistence file, or a hard kill.</summary>
    public async Task StopAsync(bool graceful = true)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        if (graceful)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }
        else
        {
            process.Kill();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(graceful: false);
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp dir left behind is harmless.
        }
    }
}
