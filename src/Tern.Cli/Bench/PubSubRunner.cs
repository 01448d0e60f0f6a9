using System.Diagnostics;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// Runs <c>pub</c>, <c>sub</c> or <c>pubsub</c>: connects the subscribers (and waits for their SUBACKs),
/// then the publishers, publishes for the duration or count, lets the subscribers drain and sums up.
/// </summary>
internal sealed class PubSubRunner
{
    private readonly BenchSettings _settings;
    private readonly BenchProgress? _progress;
    private readonly LatencyHistogram _latency = new();
    private readonly List<BenchSubscriber> _subscribers = [];
    private readonly List<BenchPublisher> _publishers = [];
    private int[][] _fanout = [];

    public PubSubRunner(BenchSettings settings, BenchProgress? progress)
    {
        _settings = settings;
        _progress = progress;
    }

    /// <summary>Up to this many subscribers each get a thread with blocking receives (see <see cref="BenchSubscriber.RunBlocking"/>).</summary>
    private const int DedicatedThreadLimit = 8;

    private static Task StartThread(BenchSubscriber subscriber, int index)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            subscriber.RunBlocking();
            done.SetResult();
        })
        {
            IsBackground = true,
            Name = $"bench-sub-{index}",
        };
        thread.Start();
        return done.Task;
    }

    private string Mode => _settings.Publishers == 0 ? "sub" : _settings.Subscribers == 0 ? "pub" : "pubsub";

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var s = _settings;
        bool dedicated = s.Subscribers <= DedicatedThreadLimit;
        var connector = new BenchConnector(s.Target, s.ConnectRate, blocking: dedicated);
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receiveLoops = new List<Task>();
        bool both = s.Publishers > 0 && s.Subscribers > 0;
        _fanout = both ? ComputeFanout() : [];
        FlowControl? flow = both && s.MaxLag > 0 ? new FlowControl(s.MaxLag, _fanout) : null;
        try
        {
            Socket?[] subSockets = await connector.ConnectAsync(s.Subscribers, i => $"{s.ClientPrefix}-s{i}", ct).ConfigureAwait(false);
            ThrowIfFailed(connector, "subscriber");
            for (var i = 0; i < subSockets.Length; i++)
            {
                string filter = BenchSettings.Expand(s.SubscribeFilter, i);
                if (dedicated)
                {
                    BenchSocket.Subscribe(subSockets[i]!, filter, s.SubscribeQoS);
                }
                else
                {
                    await BenchSocket.SubscribeAsync(subSockets[i]!, filter, s.SubscribeQoS, ct).ConfigureAwait(false);
                }

                var subscriber = new BenchSubscriber(subSockets[i]!, _latency, flow);
                if (dedicated && s.Rate == 0 && flow is not null && OperatingSystem.IsLinux())
                {
                    // A quarter of what may be on its way to this subscriber, so the closed loop never waits on it.
                    long onTheWay = flow.MaxLag / Math.Max(1, s.Subscribers) * (s.PayloadSize + 32);
                    subscriber.CoalesceReceives((int)Math.Clamp(onTheWay / 4, 1, 16 * 1024), TimeSpan.FromMilliseconds(2));
                }

                _subscribers.Add(subscriber);
                receiveLoops.Add(dedicated
                    ? StartThread(subscriber, i)
                    : Task.Run(() => subscriber.RunAsync(listening.Token), CancellationToken.None));
            }

            // The pacer sends with blocking calls from its own thread.
            var pubConnector = new BenchConnector(s.Target, s.ConnectRate, blocking: s.Rate > 0 && s.Publishers <= 100);
            Socket?[] pubSockets = await pubConnector.ConnectAsync(s.Publishers, i => $"{s.ClientPrefix}-p{i}", ct).ConfigureAwait(false);
            ThrowIfFailed(pubConnector, "publisher");
            var plan = new PublishPlan(s.Messages, s.Inflight);
            for (var i = 0; i < pubSockets.Length; i++)
            {
                var templates = new PublishTemplate[s.Topics];
                for (var j = 0; j < templates.Length; j++)
                {
                    templates[j] = new PublishTemplate(BenchSettings.Expand(s.PublishTopic, i, j), s.PayloadSize, s.PublishQoS);
                }

                _publishers.Add(new BenchPublisher(pubSockets[i]!, (uint)i, templates, plan, flow, both ? _fanout[i] : null));
            }

            return await MeasureAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            await listening.CancelAsync().ConfigureAwait(false);
            foreach (var p in _publishers)
            {
                p.Dispose();
            }

            foreach (var sub in _subscribers)
            {
                sub.Dispose();
            }

            await Task.WhenAll(receiveLoops).ConfigureAwait(false);
        }
    }

    private async Task<BenchResult> MeasureAsync(CancellationToken ct)
    {
        var s = _settings;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (s.Duration is { } duration)
        {
            stop.CancelAfter(duration);
        }

        long start = Stopwatch.GetTimestamp();
        foreach (var sub in _subscribers)
        {
            sub.RecordLatencyFrom = start + (long)(s.Warmup.TotalSeconds * Stopwatch.Frequency);
        }

        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var publishing = new Task[_publishers.Count];
        Task? paced = s.Rate > 0 && _publishers.Count > 0 ? new Pacer(_publishers, s.Rate).RunAsync(stop.Token) : null;
        for (var i = 0; i < publishing.Length; i++)
        {
            var publisher = _publishers[i];
            publishing[i] = Task.Run(() => publisher.RunAsync(stop.Token, paced), CancellationToken.None);
        }

        Task allPublished = _publishers.Count > 0 ? Task.WhenAll(publishing) : Task.Delay(Timeout.Infinite, stop.Token);
        using var progressStop = new CancellationTokenSource();
        Task progress = _progress?.RunAsync(Sent, Received, _latency, progressStop.Token) ?? Task.CompletedTask;
        await allPublished.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        double publishSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long expected = _publishers.Count > 0 && _subscribers.Count > 0 ? ExpectedDeliveries() : -1;
        if (expected >= 0)
        {
            await DrainAsync(expected, ct).ConfigureAwait(false);
        }

        await progressStop.CancelAsync().ConfigureAwait(false);
        await progress.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        return Summarize(start, publishSeconds, expected) with
        {
            LoadCpuPercent = 100 * cpuSeconds / Stopwatch.GetElapsedTime(start).TotalSeconds,
        };
    }

    /// <summary>Waits until the subscribers have everything, or nothing arrived for 2 s (at most 30 s).</summary>
    private async Task DrainAsync(long expected, CancellationToken ct)
    {
        long last = -1;
        var still = Stopwatch.StartNew();
        var total = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested && total.Elapsed < TimeSpan.FromSeconds(30))
        {
            long received = Received();
            if (received >= expected)
            {
                return;
            }

            if (received != last)
            {
                last = received;
                still.Restart();
            }
            else if (still.Elapsed > TimeSpan.FromSeconds(2))
            {
                return;
            }

            await Task.Delay(20, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>For each publisher and topic, the subscribers whose filter matches it.</summary>
    private int[][] ComputeFanout()
    {
        var filters = new string[_settings.Subscribers];
        for (var i = 0; i < filters.Length; i++)
        {
            filters[i] = BenchSettings.Expand(_settings.SubscribeFilter, i);
        }

        var fanout = new int[_settings.Publishers][];
        for (var p = 0; p < fanout.Length; p++)
        {
            fanout[p] = new int[_settings.Topics];
            for (var j = 0; j < _settings.Topics; j++)
            {
                string topic = BenchSettings.Expand(_settings.PublishTopic, p, j);
                foreach (var filter in filters)
                {
                    fanout[p][j] += MqttTopic.Matches(filter, topic) ? 1 : 0;
                }
            }
        }

        return fanout;
    }

    private long ExpectedDeliveries()
    {
        long expected = 0;
        for (var p = 0; p < _publishers.Count; p++)
        {
            var sent = _publishers[p].SentPerTemplate;
            for (var j = 0; j < sent.Count; j++)
            {
                expected += sent[j] * _fanout[p][j];
            }
        }

        return expected;
    }

    private BenchResult Summarize(long start, double publishSeconds, long expected)
    {
        long received = Received();
        long gaps = 0, dups = 0, lastReceive = 0, errors = 0;
        string? firstError = null;
        foreach (var sub in _subscribers)
        {
            gaps += sub.Tracker.Gaps;
            dups += sub.Tracker.Duplicates;
            lastReceive = Math.Max(lastReceive, sub.LastReceiveTimestamp);
            errors += sub.Error is null ? 0 : 1;
            firstError ??= sub.Error;
        }

        foreach (var pub in _publishers)
        {
            errors += pub.Error is null ? 0 : 1;
            firstError ??= pub.Error;
        }

        double receiveSeconds = lastReceive > start ? Stopwatch.GetElapsedTime(start, lastReceive).TotalSeconds : publishSeconds;
        double seconds = _publishers.Count > 0 ? Math.Max(publishSeconds, receiveSeconds) : publishSeconds;
        long sent = Sent();
        var result = new BenchResult
        {
            Mode = Mode,
            Publishers = _publishers.Count,
            Subscribers = _subscribers.Count,
            QoS = (int)(_publishers.Count > 0 ? _settings.PublishQoS : _settings.SubscribeQoS),
            PayloadSize = Math.Max(_settings.PayloadSize, BenchWire.PayloadHeaderSize),
            Seconds = seconds,
            Sent = sent,
            SentPerSecond = publishSeconds > 0 ? sent / publishSeconds : 0,
            Expected = expected,
            Received = received,
            ReceivedPerSecond = seconds > 0 ? received / seconds : 0,
            Lost = expected >= 0 ? Math.Max(0, expected - received) : gaps,
            Gaps = gaps,
            Duplicates = dups,
            Connected = _publishers.Count + _subscribers.Count,
            ClientErrors = errors,
            FirstError = firstError,
        };
        return result.WithLatency(_latency);
    }

    private long Sent()
    {
        long n = 0;
        foreach (var p in _publishers)
        {
            n += p.Sent;
        }

        return n;
    }

    private long Received()
    {
        long n = 0;
        foreach (var s in _subscribers)
        {
            n += s.Received;
        }

        return n;
    }

    private static void ThrowIfFailed(BenchConnector connector, string role)
    {
        if (connector.Failed > 0)
        {
            throw new BenchException($"{connector.Failed} {role} connection(s) failed: {connector.FirstError}");
        }
    }
}
