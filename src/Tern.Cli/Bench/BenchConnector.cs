using System.Diagnostics;
using System.Net.Sockets;

namespace Tern.Cli.Bench;

/// <summary>Opens many connections at a paced rate (connections per second; 0 = as fast as 256 at a time allow).</summary>
internal sealed class BenchConnector
{
    private const int Concurrency = 256;
    private readonly BenchTarget _target;
    private readonly double _rate;
    private readonly bool _blocking;
    private long _connected;
    private long _failed;

    /// <param name="blocking">Handshake with blocking calls (see <see cref="BenchSocket.Connect"/>), for a few sockets that dedicated threads use.</param>
    public BenchConnector(BenchTarget target, double rate, bool blocking = false)
    {
        _target = target;
        _rate = rate;
        _blocking = blocking;
    }

    public long Connected => Volatile.Read(ref _connected);

    public long Failed => Volatile.Read(ref _failed);

    /// <summary>CONNECT→CONNACK time of each successful connection.</summary>
    public LatencyHistogram ConnectLatency { get; } = new();

    public string? FirstError { get; private set; }

    /// <summary>Opens <paramref name="count"/> connections; a failed one is null in the result.</summary>
    public async Task<Socket?[]> ConnectAsync(int count, Func<int, string> clientId, CancellationToken ct)
    {
        var sockets = new Socket?[count];
        using var gate = new SemaphoreSlim(Concurrency);
        var tasks = new List<Task>(count);
        long start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count && !ct.IsCancellationRequested; i++)
        {
            if (_rate > 0)
            {
                double dueSeconds = i / _rate;
                double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (dueSeconds > elapsed)
                {
                    await Task.Delay(TimeSpan.FromSeconds(dueSeconds - elapsed), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }

            await gate.WaitAsync(ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (ct.IsCancellationRequested)
            {
                break;
            }

            tasks.Add(ConnectOneAsync(i, clientId(i), sockets, gate, ct));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        return sockets;
    }

    private async Task ConnectOneAsync(int i, string clientId, Socket?[] sockets, SemaphoreSlim gate, CancellationToken ct)
    {
        long begin = Stopwatch.GetTimestamp();
        try
        {
            sockets[i] = _blocking
                ? await Task.Run(() => BenchSocket.Connect(_target, clientId), ct).ConfigureAwait(false)
                : await BenchSocket.ConnectAsync(_target, clientId, ct).ConfigureAwait(false);
            ConnectLatency.RecordTicks(Stopwatch.GetTimestamp() - begin);
            Interlocked.Increment(ref _connected);
        }
        catch (Exception ex) when (ex is SocketException or BenchException or OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _failed);
            FirstError ??= ex.Message;
        }
        finally
        {
            gate.Release();
        }
    }
}
