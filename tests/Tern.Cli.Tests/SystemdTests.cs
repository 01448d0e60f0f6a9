using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>packaging/tern.service</c> checked by <c>systemd-analyze</c>, and <c>tern start</c> speaking the
/// systemd notify protocol when systemd starts it.
/// </summary>
public sealed class SystemdTests : IDisposable
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(20);

    private readonly string _directory = Directory.CreateTempSubdirectory("tern-systemd-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string UnitPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var unit = Path.Combine(dir.FullName, "packaging", "tern.service");
                if (File.Exists(unit))
                {
                    return unit;
                }
            }

            throw new FileNotFoundException("packaging/tern.service not found above " + AppContext.BaseDirectory);
        }
    }

    [Fact]
    public void Unit_is_a_notify_service_that_reloads_on_SIGHUP_as_its_own_user_with_its_state_directory()
    {
        var unit = File.ReadAllLines(UnitPath).Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#').ToArray();

        Assert.Contains("Type=notify", unit);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", unit);
        Assert.Contains("User=tern", unit);
        Assert.Contains("StateDirectory=tern", unit);
        Assert.Contains("WorkingDirectory=/var/lib/tern", unit);
        Assert.Contains(unit, l => l.StartsWith("LimitNOFILE=", StringComparison.Ordinal));
        Assert.Contains(unit, l => l.StartsWith("ExecStart=/opt/tern/tern start", StringComparison.Ordinal));

        // The JIT writes the code it runs: this option would stop tern at its first method.
        Assert.DoesNotContain(unit, l => l.StartsWith("MemoryDenyWriteExecute=yes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unit_passes_systemd_analyze_verify_and_its_exposure_is_rated_OK()
    {
        ExternalTools.Require("/usr/bin/systemd-analyze", "systemd");

        // verify checks that ExecStart exists: point it at a program that does, the rest as shipped.
        var unit = Path.Combine(_directory, "tern.service");
        await File.WriteAllTextAsync(unit, (await File.ReadAllTextAsync(UnitPath)).Replace("ExecStart=/opt/tern/tern ", "ExecStart=/bin/true ", StringComparison.Ordinal));

        var (verifyCode, verifyOut) = await RunAsync("systemd-analyze", "verify", unit);
        Assert.True(verifyCode == 0 && verifyOut.Length == 0, $"systemd-analyze verify exited {verifyCode}:\n{verifyOut}");

        var (securityCode, securityOut) = await RunAsync("systemd-analyze", "security", "--offline=true", unit);
        Assert.Equal(0, securityCode);
        var rating = Regex.Match(securityOut, @"Overall exposure level for tern\.service: ([0-9.]+) (\w+)");
        Assert.True(rating.Success, securityOut);
        Assert.Equal("OK", rating.Groups[2].Value);
    }

    [Fact]
    public async Task Started_by_systemd_it_notifies_READY_once_listening_and_STOPPING_on_SIGTERM_with_journald_log_lines()
    {
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var socketPath = Path.Combine(_directory, "notify");
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));

        // .NET takes its parent process's name for the sign that systemd started it: a shell named
        // "systemd" runs tern as its child, as systemd would, and passes SIGTERM on to it.
        var systemd = Path.Combine(_directory, "systemd");
        File.CreateSymbolicLink(systemd, "/bin/sh");
        await using var tern = TernProcess.Start(
            ["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath },
            workingDirectory: _directory,
            prefix: [systemd, "-c", "trap 'kill -TERM $!' TERM; \"$0\" \"$@\" & wait; wait"]);

        Assert.Equal("READY=1", await ReceiveAsync(notify));
        var listening = await tern.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Prompt);

        // journald's format: the syslog priority first (6 = information), no timestamp of our own.
        Assert.StartsWith("<6>", listening, StringComparison.Ordinal);
        var port = int.Parse(Regex.Match(listening, @"mqtt://127\.0\.0\.1:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
        }

        await tern.SendSignalAsync("TERM");
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await tern.WaitForExitAsync(Prompt));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(Prompt);
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.ASCII.GetString(buffer, 0, length).Trim();
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Prompt);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
