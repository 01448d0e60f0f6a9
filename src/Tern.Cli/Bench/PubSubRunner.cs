using System.Diagnostics;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// Runs <c>pub</c>, <c>sub</c> or <c>pubsub</c>: connects the subscribers (and waits for their SUBACKs),
/// then the publishers, publishes for the measured window (the duration, or until the count is sent),
/// gives late deliveries a short, bounded drain and sums up. Rates are over the window only; what
/// arrives during the drain counts against loss, not towards the rate.
/// </summary>
internal sealed class PubSubRunner
{
    private readonly BenchSettings _settings;
    private readonly BenchProgress? _progress;
    private readonly LatencyHistogram _latency = new();
    private readonly List<BenchSubscriber> _subscribers = [];
    private readonly List<BenchPublisher> _publishers = [];
    private int[][] _fanout = [];
    private int _sharing = 1;

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
        if (both)
        {
            ComputeFanout();
        }

        FlowControl? flow = both && s.MaxLag > 0 ? new FlowControl(s.MaxLag, _fanout, _sharing) : null;
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

                // pubsub knows its run; a lone 'sub' counts the messages of any 'tern bench pub'.
                var subscriber = new BenchSubscriber(subSockets[i]!, _latency, flow, both ? s.RunId : null);
                if (dedicated && s.Rate == 0 && flow is not null && OperatingSystem.IsLinux())
                {
                    // A quarter of what is on its way to this subscriber when all keep up, so the closed loop never waits on it.
                    long onTheWay = flow.TotalBudget / Math.Max(1, s.Subscribers) * (s.PayloadSize + 32);
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
                    templates[j] = new PublishTemplate(BenchSettings.Expand(s.PublishTopic, i, j), s.PayloadSize, s.PublishQoS, s.RunId);
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
        long start = Stopwatch.GetTimestamp();
        using var timer = s.Duration is { } duration ? new CancellationTokenSource(duration) : new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        foreach (var sub in _subscribers)
        {
            sub.RecordLatencyFrom = start + (long)(s.Warmup.TotalSeconds * Stopwatch.Frequency);
            sub.WindowEnd = s.Duration is { } d ? start + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        }

        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        foreach (var publisher in _publishers)
        {
            publisher.Start();
        }

        Task sending;
        if (s.Rate > 0 && _publishers.Count > 0)
        {
            sending = new Pacer(_publishers, s.Rate).RunAsync(stop.Token);
        }
        else if (_publishers.Count > 0)
        {
            var loops = new Task[_publishers.Count];
            for (var i = 0; i < loops.Length; i++)
            {
                var publisher = _publishers[i];
                loops[i] = Task.Run(() => publisher.SendAsync(stop.Token), CancellationToken.None);
            }

            sending = Task.WhenAll(loops);
        }
        else
        {
            sending = Task.Delay(Timeout.Infinite, stop.Token);
        }

        using var progressStop = new CancellationTokenSource();
        Task progress = _progress?.RunAsync(Sent, Received, _latency, progressStop.Token) ?? Task.CompletedTask;
        await sending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // The window is the duration when it ran out; otherwise until the count was sent or Ctrl+C.
        long stopped = Stopwatch.GetTimestamp();
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        double window = timer.IsCancellationRequested ? s.Duration!.Value.TotalSeconds : Stopwatch.GetElapsedTime(start, stopped).TotalSeconds;
        if (!timer.IsCancellationRequested)
        {
            foreach (var sub in _subscribers)
            {
                sub.WindowEnd = stopped;
            }
        }

        long expected = _publishers.Count > 0 && _subscribers.Count > 0 ? ExpectedDeliveries() : -1;
        await DrainAsync(expected, DrainLimit(window), ct).ConfigureAwait(false);
        await progressStop.CancelAsync().ConfigureAwait(false);
        await progress.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return Summarize(window, expected) with
        {
            LoadCpuPercent = 100 * cpuSeconds / Math.Max(1e-6, Stopwatch.GetElapsedTime(start, stopped).TotalSeconds),
        };
    }

    /// <summary>How long late deliveries and acknowledgements may take after the window: 2 s, or a tenth of a long window (at most 10 s).</summary>
    private static TimeSpan DrainLimit(double windowSeconds) => TimeSpan.FromSeconds(Math.Clamp(windowSeconds / 10, 2, 10));

    /// <summary>
    /// Lets the publishers collect their outstanding acknowledgements and disconnect, and the subscribers
    /// receive what is still on its way (this run's messages only), for at most <paramref name="limit"/>.
    /// </summary>
    private async Task DrainAsync(long expected, TimeSpan limit, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(limit);
        var finishing = new Task[_publishers.Count + 1];
        for (var i = 0; i < _publishers.Count; i++)
        {
            finishing[i] = _publishers[i].FinishAsync(deadline.Token);
        }

        finishing[^1] = WaitForDeliveriesAsync(expected, deadline.Token);
        await Task.WhenAll(finishing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task WaitForDeliveriesAsync(long expected, CancellationToken ct)
    {
        while (expected >= 0 && Received() < expected && !ct.IsCancellationRequested)
        {
            await Task.Delay(20, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// For each publisher and topic, the subscribers whose filter matches it; and the most publishers
    /// that any one subscriber hears from (they share its <see cref="BenchSettings.MaxLag"/>).
    /// </summary>
    private void ComputeFanout()
    {
        var filters = new string[_settings.Subscribers];
        for (var i = 0; i < filters.Length; i++)
        {
            filters[i] = BenchSettings.Expand(_settings.SubscribeFilter, i);
        }

        var senders = new int[filters.Length];
        var lastSender = new int[filters.Length];
        Array.Fill(lastSender, -1);
        _fanout = new int[_settings.Publishers][];
        for (var p = 0; p < _fanout.Length; p++)
        {
            _fanout[p] = new int[_settings.Topics];
            for (var j = 0; j < _settings.Topics; j++)
            {
                string topic = BenchSettings.Expand(_settings.PublishTopic, p, j);
                for (var f = 0; f < filters.Length; f++)
                {
                    if (MqttTopic.Matches(filters[f], topic))
                    {
                        _fanout[p][j]++;
                        senders[f] += lastSender[f] == p ? 0 : 1;
                        lastSender[f] = p;
                    }
                }
            }
        }

        _sharing = Math.Max(1, senders.DefaultIfEmpty(0).Max());
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

    private BenchResult Summarize(double window, long expected)
    {
        long received = 0, inWindow = 0, retained = 0, foreign = 0, gaps = 0, dups = 0, errors = 0;
        string? firstError = null;
        foreach (var sub in _subscribers)
        {
            received += sub.Received;
            inWindow += sub.ReceivedInWindow;
            retained += sub.IgnoredRetained;
            foreign += sub.IgnoredForeign;
            gaps += sub.Tracker.Gaps;
            dups += sub.Tracker.Duplicates;
            errors += sub.Error is null ? 0 : 1;
            firstError ??= sub.Error;
        }

        foreach (var pub in _publishers)
        {
            errors += pub.Error is null ? 0 : 1;
            firstError ??= pub.Error;
        }

        long sent = Sent();
        var result = new BenchResult
        {
            Mode = Mode,
            Publishers = _publishers.Count,
            Subscribers = _subscribers.Count,
            QoS = (int)(_publishers.Count > 0 ? _settings.PublishQoS : _settings.SubscribeQoS),
            PayloadSize = Math.Max(_settings.PayloadSize, BenchWire.PayloadHeaderSize),
            MaxLag = _publishers.Count > 0 && _subscribers.Count > 0 ? _settings.MaxLag : -1,
            Seconds = window,
            Sent = sent,
            SentPerSecond = window > 0 ? sent / window : 0,
            Expected = expected,
            Received = received,
            ReceivedPerSecond = window > 0 ? inWindow / window : 0,
            ReceivedLate = received - inWindow,
            Lost = expected >= 0 ? Math.Max(0, expected - received) : gaps,
            Gaps = gaps,
            Duplicates = dups,
            IgnoredRetained = retained,
            IgnoredForeign = foreign,
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
