using System.Diagnostics;
using System.Text;

namespace Tern.Cli.Tests;

/// <summary>
/// Runs the built <c>tern.dll</c> as a real process (<c>dotnet tern.dll ...</c>) and lets tests wait on
/// its output lines and exit with timeouts. The working directory is a fresh temp directory so that no
/// stray tern.json is read, and inherited TERN_ variables are removed.
/// </summary>
internal sealed class TernProcess : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly object _gate = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];

    private TernProcess(Process process) => _process = process;

    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    public int Id => _process.Id;

    /// <summary>
    /// Starts <c>dotnet tern.dll</c> with <paramref name="args"/>; <paramref name="prefix"/> is a command
    /// that runs it (e.g. <c>setpriv</c> with its options, to run it as another user). With
    /// <paramref name="executable"/> it runs that program instead (e.g. an installed tool's <c>tern</c>).
    /// </summary>
    public static TernProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, string dll = "tern.dll", IReadOnlyList<string>? prefix = null, string? executable = null)
    {
        var ternDll = Path.Combine(AppContext.BaseDirectory, dll);
        Assert.True(executable is not null || File.Exists(ternDll), $"{dll} not found next to the tests: {ternDll}");

        // Through env --default-signal=INT: a shell's background job (CI, a runner) ignores SIGINT and
        // its children inherit that, so tern would never see the Ctrl+C that the tests send.
        var info = new ProcessStartInfo(prefix is { Count: > 0 } ? prefix[0] : "env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.CreateTempSubdirectory("tern-cli-test-").FullName,
        };
        if (prefix is { Count: > 0 })
        {
            foreach (var arg in prefix.Skip(1))
            {
                info.ArgumentList.Add(arg);
            }

            info.ArgumentList.Add("env");
        }

        info.ArgumentList.Add("--default-signal=INT");
        if (executable is null)
        {
            info.ArgumentList.Add("dotnet");
            info.ArgumentList.Add(ternDll);
        }
        else
        {
            info.ArgumentList.Add(executable);
        }
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.ToArray())
        {
            if (key.StartsWith("TERN_", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(key);
            }
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var tern = new TernProcess(process);
        process.OutputDataReceived += (_, e) => tern.OnLine(e.Data, tern._stdout);
        process.ErrorDataReceived += (_, e) => tern.OnLine(e.Data, tern._stderr);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tern;
    }

    /// <summary>Runs tern to completion and returns its exit code.</summary>
    public static async Task<(int ExitCode, TernProcess Process)> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, IReadOnlyList<string>? prefix = null, string dll = "tern.dll", string? executable = null)
    {
        var tern = Start(args, environment, workingDirectory, dll, prefix: prefix, executable: executable);
        var code = await tern.WaitForExitAsync(DefaultTimeout);
        return (code, tern);
    }

    /// <summary>Writes <paramref name="text"/> to tern's standard input and closes it (end of input).</summary>
    public async Task WriteInputAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        _process.StandardInput.Close();
    }

    /// <summary>Waits for an output line (stdout or stderr) that satisfies <paramref name="match"/>.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
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
        var winner = await Task.WhenAny(done.Task, exited, Task.Delay(timeout ?? DefaultTimeout));
        if (winner == done.Task)
        {
            return await done.Task;
        }

        // The process may print the line and exit at once; the reader can lag behind the exit.
        if (winner == exited)
        {
            _process.WaitForExit();
            if (done.Task.IsCompleted)
            {
                return await done.Task;
            }
        }

        throw new TimeoutException(
            $"No matching output line ({(winner == exited ? "process exited" : "timed out")}).\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    /// <summary>
    /// Waits for the broker's "listening on" line and returns its MQTT port: started with <c>-p 0</c>, the
    /// broker binds a port of its own, so no other process can take it between a probe and the bind.
    /// </summary>
    public async Task<int> WaitForMqttPortAsync(TimeSpan? timeout = null)
    {
        var line = await WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), timeout);
        var match = System.Text.RegularExpressions.Regex.Match(line, @"mqtt://[^\s,]*:(\d+)");
        if (!match.Success)
        {
            throw new InvalidOperationException($"No mqtt:// address in: {line}");
        }

        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Waits for the process to exit; kills it and fails on timeout.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tern did not exit within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        // Flushes the asynchronous output readers.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Sends a signal (<c>TERM</c> as a service manager or <c>docker stop</c> would, <c>INT</c> as Ctrl+C).</summary>
    public async Task SendSignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
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
        lock (_gate)
        {
            sink.Append(line).Append('\n');
            for (var i = _waiters.Count - 1; i >= 0; i--)
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
