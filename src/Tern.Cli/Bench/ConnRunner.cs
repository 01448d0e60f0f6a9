using System.Diagnostics;
using System.Net.Sockets;

namespace Tern.Cli.Bench;

/// <summary><c>tern bench conn</c>: opens connections at a paced rate, holds them, reports the connect rate.</summary>
internal sealed class ConnRunner
{
    private readonly BenchTarget _target;
    private readonly int _count;
    private readonly double _rate;
    private readonly TimeSpan? _hold;
    private readonly string _prefix;
    private readonly FileInfo? _readyFile;
    private readonly TextWriter? _progress;

    public ConnRunner(BenchTarget target, int count, double rate, TimeSpan? hold, string prefix, FileInfo? readyFile, TextWriter? progress)
    {
        (_target, _count, _rate, _hold, _prefix, _readyFile, _progress) = (target, count, rate, hold, prefix, readyFile, progress);
    }

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var connector = new BenchConnector(_target, _rate);
        using var reporting = new CancellationTokenSource();
        Task report = _progress is null ? Task.CompletedTask : ReportAsync(connector, reporting.Token);
        long start = Stopwatch.GetTimestamp();
        Socket?[] sockets = await connector.ConnectAsync(_count, ClientId, ct).ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await reporting.CancelAsync().ConfigureAwait(false);
        await report.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            if (_readyFile is not null)
            {
                await File.WriteAllTextAsync(_readyFile.FullName, $"{connector.Connected}\n", CancellationToken.None).ConfigureAwait(false);
            }

            if (_progress is not null)
            {
                await _progress.WriteLineAsync($"{connector.Connected:N0} connected, {connector.Failed:N0} failed in {seconds:F2} s; holding them {(_hold is { } h ? $"for {h.TotalSeconds:F0} s" : "until Ctrl+C")}").ConfigureAwait(false);
            }

            await Task.Delay(_hold ?? Timeout.InfiniteTimeSpan, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }
        }

        // -c: the persistent sessions are ended once their connections are closed.
        (long ended, string? error) = (-1, null);
        if (!_target.CleanSession)
        {
            var ids = new List<string>(sockets.Length);
            for (var i = 0; i < sockets.Length; i++)
            {
                if (sockets[i] is not null)
                {
                    ids.Add(ClientId(i));
                }
            }

            (ended, error) = await BenchSessions.EndAsync(_target, ids).ConfigureAwait(false);
        }

        var result = new BenchResult
        {
            Mode = "conn",
            Seconds = seconds,
            Connected = connector.Connected,
            ConnectFailures = connector.Failed,
            ConnectsPerSecond = seconds > 0 ? connector.Connected / seconds : 0,
            CleanSession = _target.CleanSession,
            SessionsEnded = ended,
            FirstError = connector.FirstError ?? error,
        };
        return result.WithLatency(connector.ConnectLatency);
    }

    private string ClientId(int index) => $"{_prefix}-c{index}";

    private async Task ReportAsync(BenchConnector connector, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long last = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await TickAsync(timer, ct).ConfigureAwait(false))
        {
            long now = connector.Connected;
            await _progress!.WriteLineAsync($"[{clock.Elapsed.TotalSeconds,5:F0}s] connected {now,8:N0} (+{now - last:N0}/s)  failed {connector.Failed:N0}").ConfigureAwait(false);
            last = now;
        }
    }

    private static async Task<bool> TickAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
