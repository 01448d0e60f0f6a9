using System.Diagnostics;
using System.Text;

namespace Tern.Cli.Tests;

/// <summary>
/// A child process for the pub/sub tests (tern, mosquitto_pub/sub, the Esp32Device example) with
/// optional stdin, UTF-8 output capture, and waits on output lines and exit, all with timeouts.
/// </summary>
internal sealed class PubSubProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];

    private PubSubProcess(Process process) => _process = process;

    public string Name => Path.GetFileName(_process.StartInfo.ArgumentList.FirstOrDefault(a => a.EndsWith(".dll", StringComparison.Ordinal)) ?? _process.StartInfo.FileName);

    public string Stdout
    {
        get { lock (_waiters) { return _stdout.ToString(); } }
    }

    public string Stderr
    {
        get { lock (_waiters) { return _stderr.ToString(); } }
    }

    /// <summary>Lines printed to stdout so far, without line ends.</summary>
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary><c>dotnet tern.dll args</c>; <paramref name="stdin"/> is written and closed, else stdin is closed at once.</summary>
    public static PubSubProcess Tern(IEnumerable<string> args, byte[]? stdin = null) =>
        Start("dotnet", [Dll("tern.dll"), .. args], stdin);

    /// <summary>The path of a dll copied next to the tests (tern.dll, Esp32Device.dll).</summary>
    public static string Dll(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, name);
        Assert.True(File.Exists(path), $"{name} not found next to the tests: {path}");
        return path;
    }

    public static PubSubProcess Start(string file, IEnumerable<string> args, byte[]? stdin = null)
    {
        Assert.True(!Path.IsPathRooted(file) || File.Exists(file), $"{file} is missing (Debian packages mosquitto, mosquitto-clients).");
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new PubSubProcess(process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, child._stdout);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, child._stderr);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            process.StandardInput.BaseStream.Write(stdin);
        }

        process.StandardInput.Close();
        return child;
    }

    /// <summary>Runs to completion; fails on timeout.</summary>
    public static async Task<(int Code, PubSubProcess Process)> RunTernAsync(params string[] args)
    {
        var tern = Tern(args);
        return (await tern.WaitForExitAsync(), tern);
    }

    /// <summary>Waits for a stdout or stderr line that satisfies <paramref name="match"/>.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            foreach (var line in (_stdout.ToString() + _stderr).Split('\n'))
            {
                if (match(line.TrimEnd('\r')))
                {
                    return line.TrimEnd('\r');
                }
            }

            _waiters.Add((match, done));
        }

        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(done.Task, exited, Task.Delay(Timeout));
        if (first == exited)
        {
            // Lines printed just before the exit may still be in the reader: WaitForExit() drains it.
            _process.WaitForExit();
        }

        return done.Task.IsCompleted
            ? await done.Task
            : throw new TimeoutException($"{Name}: no matching line ({(first == exited ? "exited" : "timed out")}).\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    public Task<string> WaitForLineAsync(string contains) => WaitForLineAsync(l => l.Contains(contains, StringComparison.Ordinal));

    /// <summary>Waits for the exit; kills the process and fails on timeout.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Name} did not exit within {timeout ?? Timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process gets no chance to send DISCONNECT, as in a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line, StringBuilder sink)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource<string>> matched = [];
        lock (_waiters)
        {
            sink.Append(line).Append('\n');
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    matched.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var done in matched)
        {
            done.TrySetResult(line);
        }
    }
}
