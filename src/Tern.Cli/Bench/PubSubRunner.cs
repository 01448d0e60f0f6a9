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

    /// <summary><c>-c</c>: the client ids that connected with a persistent session, ended after the run.</summary>
    private readonly List<string> _sessions = [];
    private SubscriptionPlan? _plan;
    private ChurnRunner? _churn;
    private long _sessionsEnded = -1;
    private string? _sessionsError;

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

    /// <summary>Whether to keep which messages were acknowledged and which delivered (pubsub at QoS 1/2).</summary>
    private bool TrackAcks => _settings.Publishers > 0 && _settings.Subscribers > 0 && _settings.PublishQoS != MqttQoS.AtMostOnce;

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var s = _settings;
        bool dedicated = s.Subscribers <= DedicatedThreadLimit;
        var connector = new BenchConnector(s.Target, s.ConnectRate, blocking: dedicated);
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receiveLoops = new List<Task>();
        bool both = s.Publishers > 0 && s.Subscribers > 0;
        _plan = both ? SubscriptionPlan.ForPubSub(s, keepStreams: TrackAcks) : SubscriptionPlan.ForSubscribers(s);
        FlowControl? flow = both && s.MaxLag > 0 ? new FlowControl(s.MaxLag, _plan.Fanout, _plan.Sharing) : null;
        Measurement measurement;
        try
        {
            Socket?[] subSockets = await connector.ConnectAsync(s.Subscribers, i => ClientId("s", i), ct).ConfigureAwait(false);
            KeepSessions(subSockets, "s");
            ThrowIfFailed(connector, "subscriber");
            for (var i = 0; i < subSockets.Length; i++)
            {
                if (dedicated)
                {
                    BenchSocket.Subscribe(subSockets[i]!, _plan.Filters[i], s.SubscribeQoS);
                }
                else
                {
                    await BenchSocket.SubscribeAsync(subSockets[i]!, _plan.Filters[i], s.SubscribeQoS, ct).ConfigureAwait(false);
                }

                // pubsub knows its run; a lone 'sub' counts the messages of any 'tern bench pub'.
                var subscriber = new BenchSubscriber(subSockets[i]!, _latency, flow, both ? s.RunId : null, trackDelivered: TrackAcks);
                if (s.SubscriberRate > 0)
                {
                    subscriber.LimitRate(s.SubscriberRate);
                }
                else if (dedicated && s.Rate == 0 && flow is not null && OperatingSystem.IsLinux())
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

            if (both && s.Churn > 0)
            {
                _churn = new ChurnRunner(s, ChurnTopics());
                // Churn clients only subscribe and unsubscribe: clean sessions, with or without -c.
                await _churn.ConnectAsync(new BenchConnector(s.Target with { CleanSession = true }, s.ConnectRate), ct).ConfigureAwait(false);
            }

            // The pacer sends with blocking calls from its own thread.
            var pubConnector = new BenchConnector(s.Target, s.ConnectRate, blocking: s.Rate > 0 && s.Publishers <= 100);
            Socket?[] pubSockets = await pubConnector.ConnectAsync(s.Publishers, i => ClientId("p", i), ct).ConfigureAwait(false);
            KeepSessions(pubSockets, "p");
            ThrowIfFailed(pubConnector, "publisher");
            var plan = new PublishPlan(s.Messages, s.Inflight);
            for (var i = 0; i < pubSockets.Length; i++)
            {
                var templates = new PublishTemplate[s.Topics];
                for (var j = 0; j < templates.Length; j++)
                {
                    templates[j] = new PublishTemplate(BenchSettings.Expand(s.PublishTopic, i, j), s.PayloadSize, s.PublishQoS, s.RunId);
                }

                _publishers.Add(new BenchPublisher(pubSockets[i]!, (uint)i, templates, plan, flow, both ? _plan.Fanout[i] : null, TrackAcks));
            }

            measurement = await MeasureAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            await listening.CancelAsync().ConfigureAwait(false);
            await CloseAsync(receiveLoops).ConfigureAwait(false);
            if (!s.Target.CleanSession)
            {
                (_sessionsEnded, _sessionsError) = await BenchSessions.EndAsync(s.Target, _sessions).ConfigureAwait(false);
            }
        }

        // Every connection is closed and every loop has ended: the counts are final.
        return Summarize(measurement);
    }

    /// <summary>Client ids: <c>&lt;prefix&gt;-p&lt;i&gt;</c> for publishers, <c>-s&lt;i&gt;</c> for subscribers; stable within a run, as persistent sessions need.</summary>
    private string ClientId(string role, int index) => $"{_settings.ClientPrefix}-{role}{index}";

    /// <summary>Remembers the ids of the persistent sessions that connected (<c>-c</c>), to end them after the run.</summary>
    private void KeepSessions(Socket?[] sockets, string role)
    {
        if (_settings.Target.CleanSession)
        {
            return;
        }

        for (var i = 0; i < sockets.Length; i++)
        {
            if (sockets[i] is not null)
            {
                _sessions.Add(ClientId(role, i));
            }
        }
    }

    private async Task CloseAsync(List<Task> receiveLoops)
    {
        var closing = new List<Task>(_publishers.Count + 1);
        foreach (var p in _publishers)
        {
            closing.Add(p.CloseAsync());
        }

        closing.Add(_churn?.CloseAsync() ?? Task.CompletedTask);
        await Task.WhenAll(closing).ConfigureAwait(false);
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

    /// <summary>Published topics for the churn filters: up to 1,000, spread over the publishers.</summary>
    private List<string> ChurnTopics()
    {
        var s = _settings;
        var topics = new List<string>();
        int perPublisher = Math.Max(1, Math.Min(s.Topics, 1000 / s.Publishers));
        for (var j = 0; j < perPublisher; j++)
        {
            for (var p = 0; p < s.Publishers && topics.Count < 1000; p++)
            {
                topics.Add(BenchSettings.Expand(s.PublishTopic, p, j));
            }
        }

        return topics;
    }

    /// <summary>What the measurement found besides the clients' own counts.</summary>
    private readonly record struct Measurement(double Window, long Expected, double LoadCpuPercent, double DrainSeconds, string DrainEnd);

    private async Task<Measurement> MeasureAsync(CancellationToken ct)
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

        // Churn runs while the publishers send, however their sending ends.
        using var churnStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        Task churning = _churn?.RunAsync(churnStop.Token) ?? Task.CompletedTask;
        using var progressStop = new CancellationTokenSource();
        Task progress = _progress?.RunAsync(Sent, Received, _latency, progressStop.Token) ?? Task.CompletedTask;
        await sending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await churnStop.CancelAsync().ConfigureAwait(false);

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

        // The churn's last requests are answered (or time out) before the drain starts.
        await churning.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        long expected = _publishers.Count > 0 && _subscribers.Count > 0 ? ExpectedDeliveries() : -1;
        var drainClock = Stopwatch.StartNew();
        string drainEnd = await DrainAsync(expected, s.Drain ?? DefaultDrain(window), ct).ConfigureAwait(false);
        await progressStop.CancelAsync().ConfigureAwait(false);
        await progress.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        double loadCpu = 100 * cpuSeconds / Math.Max(1e-6, Stopwatch.GetElapsedTime(start, stopped).TotalSeconds);
        return new Measurement(window, expected, loadCpu, drainClock.Elapsed.TotalSeconds, drainEnd);
    }

    /// <summary>How long late deliveries and acknowledgements may take after the window: 2 s, or a tenth of a long window (at most 10 s).</summary>
    private static TimeSpan DefaultDrain(double windowSeconds) => TimeSpan.FromSeconds(Math.Clamp(windowSeconds / 10, 2, 10));

    /// <summary>The drain also ends when none of the run's messages arrived and no acknowledgement came for this long.</summary>
    private static readonly TimeSpan QuietEnd = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Lets the publishers collect their outstanding acknowledgements and disconnect, and the subscribers
    /// receive what is still on its way (this run's messages only), until all expected have arrived and
    /// every acknowledgement is in ("complete"), nothing of either came for <see cref="QuietEnd"/>
    /// ("quiet"), or <paramref name="limit"/> ("limit").
    /// </summary>
    private async Task<string> DrainAsync(long expected, TimeSpan limit, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(limit);
        var finishing = new Task[_publishers.Count];
        for (var i = 0; i < _publishers.Count; i++)
        {
            finishing[i] = _publishers[i].FinishAsync(deadline.Token);
        }

        Task acknowledged = Task.WhenAll(finishing);
        long progress = Received() + Acked();
        long lastChange = Stopwatch.GetTimestamp();
        string end;
        while (true)
        {
            if (acknowledged.IsCompleted && (expected < 0 || Received() >= expected))
            {
                end = "complete";
                break;
            }

            if (deadline.IsCancellationRequested)
            {
                end = "limit";
                break;
            }

            await Task.Delay(20, deadline.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            long now = Received() + Acked();
            if (now != progress)
            {
                (progress, lastChange) = (now, Stopwatch.GetTimestamp());
            }
            else if (Stopwatch.GetElapsedTime(lastChange) >= QuietEnd)
            {
                end = "quiet";
                break;
            }
        }

        await deadline.CancelAsync().ConfigureAwait(false);
        await acknowledged.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return end;
    }

    private long ExpectedDeliveries()
    {
        long expected = 0;
        for (var p = 0; p < _publishers.Count; p++)
        {
            var sent = _publishers[p].SentPerTemplate;
            for (var j = 0; j < sent.Count; j++)
            {
                expected += sent[j] * _plan!.Fanout[p][j];
            }
        }

        return expected;
    }

    /// <summary>Deliveries owed for acknowledged messages that no matching subscriber got (see <see cref="BenchResult.AckedNotDelivered"/>).</summary>
    private long AckedNotDelivered()
    {
        long missing = 0;
        for (var p = 0; p < _publishers.Count; p++)
        {
            for (var j = 0; j < _settings.Topics; j++)
            {
                var acked = _publishers[p].AckedSequences(j)!;
                uint stream = (uint)((p * _settings.Topics) + j);
                foreach (int i in _plan!.StreamSubscribers![stream])
                {
                    missing += acked.CountMissingFrom(_subscribers[i].Tracker.Delivered(stream));
                }
            }
        }

        return missing;
    }

    private BenchResult Summarize(Measurement m)
    {
        double window = m.Window;
        long expected = m.Expected;
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

        if (_churn is { } churn)
        {
            errors += churn.ClientsWithErrors;
            firstError ??= churn.FirstError;
        }

        long sent = Sent();
        bool acknowledged = _publishers.Count > 0 && _settings.PublishQoS != MqttQoS.AtMostOnce;
        var result = new BenchResult
        {
            Mode = Mode,
            Publishers = _publishers.Count,
            Subscribers = _subscribers.Count,
            Topics = (long)_publishers.Count * _settings.Topics,
            Subscriptions = (long)_subscribers.Count * _settings.SubscribeTopics,
            SubscriberRate = _settings.SubscriberRate,
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
            Acked = acknowledged ? Acked() : -1,
            AckedNotDelivered = TrackAcks ? AckedNotDelivered() : -1,
            DrainSeconds = m.DrainSeconds,
            DrainEnd = m.DrainEnd,
            LoadCpuPercent = m.LoadCpuPercent,
            Gaps = gaps,
            Duplicates = dups,
            IgnoredRetained = retained,
            IgnoredForeign = foreign,
            Connected = _publishers.Count + _subscribers.Count + (_churn?.Connected ?? 0),
            CleanSession = _settings.Target.CleanSession,
            SessionsEnded = _sessionsEnded,
            ClientErrors = errors,
            FirstError = firstError ?? _sessionsError,
        };
        if (_churn is { } c)
        {
            result = result with
            {
                ChurnRate = _settings.Churn,
                ChurnClients = c.Connected,
                ChurnOperations = c.Operations,
                ChurnOperationsPerSecond = window > 0 ? c.Operations / window : 0,
                ChurnFailures = c.Failures,
                ChurnDeliveries = c.Deliveries,
                ChurnLatencyP50Micros = c.Latency.PercentileMicros(50),
                ChurnLatencyP99Micros = c.Latency.PercentileMicros(99),
            };
        }

        return result.WithLatency(_latency);
    }

    private long Acked()
    {
        long n = 0;
        foreach (var p in _publishers)
        {
            n += p.Acked;
        }

        return n;
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
