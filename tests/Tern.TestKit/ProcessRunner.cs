using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Tern.TestKit;

/// <summary>
/// Runs an external program (mosquitto_sub, python3, ...) with its output captured line by line.
/// The process is killed (SIGKILL) on dispose if it is still running.
/// </summary>
public sealed class ProcessRunner : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly ConcurrentQueue<string> _all = new();
    private readonly TaskCompletionSource _stdoutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ProcessRunner(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything printed so far, stdout and stderr interleaved (stderr lines prefixed).</summary>
    public string Output => string.Join(Environment.NewLine, _all);

    public string CommandLine { get; private init; } = "";

    /// <summary>Starts <paramref name="fileName"/>; fails with the Debian package to install when it is missing.</summary>
    /// <param name="fileName">Absolute path of the program.</param>
    /// <param name="arguments">Its arguments, passed without a shell.</param>
    /// <param name="debianPackage">Named in the failure when the program is missing.</param>
    /// <param name="lineBuffered">
    /// Run it under <c>stdbuf -oL</c>: C programs fully buffer stdout into a pipe, so lines such as
    /// mosquitto_sub's would otherwise arrive only when it exits.
    /// </param>
    public static ProcessRunner Start(string fileName, IEnumerable<string> arguments, string? debianPackage = null, bool lineBuffered = false)
    {
        ExternalTools.Require(fileName, debianPackage);
        if (lineBuffered)
        {
            ExternalTools.Require(ExternalTools.Stdbuf, "coreutils");
            arguments = ["-oL", "-eL", fileName, .. arguments];
            fileName = ExternalTools.Stdbuf;
        }

        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var runner = new ProcessRunner(process)
        {
            CommandLine = fileName + " " + string.Join(' ', info.ArgumentList.Select(a => a.Contains(' ', StringComparison.Ordinal) || a.Length == 0 ? $"'{a}'" : a)),
        };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                runner._stdout.Writer.TryComplete();
                runner._stdoutDone.TrySetResult();
                return;
            }

            runner._all.Enqueue(e.Data);
            runner._stdout.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                runner._stderrDone.TrySetResult();
                return;
            }

            runner._all.Enqueue("stderr: " + e.Data);
        };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return runner;
    }

    /// <summary>Waits for a stdout line matching <paramref name="predicate"/>; lines before it are consumed.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var limit = timeout ?? TestTimeouts.External;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await foreach (var line in _stdout.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                if (predicate(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new MqttTestException($"No matching line from `{CommandLine}` within {limit.TotalSeconds:0.#} s. Output so far:{Environment.NewLine}{Output}");
        }

        await DrainAsync().ConfigureAwait(false);
        throw new MqttTestException($"`{CommandLine}` ended (exit {ExitCodeText()}) without a matching line. Output:{Environment.NewLine}{Output}");
    }

    /// <summary>Waits for a stdout line equal to <paramref name="expected"/>.</summary>
    public Task<string> WaitForLineAsync(string expected, TimeSpan? timeout = null) =>
        WaitForLineAsync(line => line == expected, timeout);

    /// <summary>Waits for the process to exit and its output to be read; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.External;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new MqttTestException($"`{CommandLine}` did not exit within {limit.TotalSeconds:0.#} s. Output so far:{Environment.NewLine}{Output}");
        }

        await DrainAsync().ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Kills the process with SIGKILL (no chance to send DISCONNECT) and waits for it to end.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var cts = new CancellationTokenSource(TestTimeouts.External);
        await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        try
        {
            await Task.WhenAll(_stdoutDone.Task, _stderrDone.Task).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Output readers are best effort once the process has exited.
        }
    }

    private string ExitCodeText() => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }
}
