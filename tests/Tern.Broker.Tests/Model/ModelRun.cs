using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Model;

/// <summary>The outcome of one seed: violations (empty when the broker kept every promise) and figures.</summary>
internal sealed record ModelRunResult(int Seed, ModelConfig Config, List<string> Violations, string Summary, string Trace)
{
    public bool Passed => Violations.Count == 0;

    /// <summary>The failure report: seed, what went wrong, and the operations that led there.</summary>
    public string Report(string replay)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Model run failed: config {Config}, seed {Seed}.");
        text.AppendLine("Replay: " + replay);
        text.AppendLine(Summary);
        text.AppendLine(CultureInfo.InvariantCulture, $"{Violations.Count} violation(s):");
        foreach (var (violation, i) in Violations.Take(40).Select((v, i) => (v, i)))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{i + 1}. {violation}");
        }

        text.AppendLine("Last operations (stamp, client, operation):");
        text.AppendLine(Trace);
        return text.ToString();
    }
}

/// <summary>
/// One seeded run: a fresh broker, actors doing random operations at the same time, then the drain
/// (every stored session back online, fences through every queue) and the model's checks.
/// </summary>
internal static class ModelRun
{
    private const int TraceLines = 150;

    public static async Task<ModelRunResult> RunAsync(ModelConfig config, int seed, int operationsPerActor, KnownFailures knownFailures)
    {
        var stopwatch = Stopwatch.StartNew();
        var rng = new Random(seed);
        await using var broker = await TestBroker.StartAsync(config.SettingsFor(rng));
        var model = new ModelState();
        var context = new ModelContext(model, broker.Port, config.MaxInflight, knownFailures);
        var actors = CreateActors(context, rng);
        model.Trace.Add(model.Next(), $"seed {seed}: {actors.Count(a => a.Role == ActorRole.Plain)} plain and {actors.Count(a => a.Role == ActorRole.Shared)} shared clients, "
            + $"{operationsPerActor} operations each, known failures exercised: {KnownFailuresSetting.ToSetting(knownFailures)}; shared: {string.Join(", ", actors.Where(a => a.Role == ActorRole.Shared).Select(a => $"{a.ClientId} in '{a.SharedFilter}'"))}");

        try
        {
            await Task.WhenAll(actors.Select(a => a.SetUpAsync()));
            await Task.WhenAll(actors.Select(a => Task.Run(() => a.RunAsync(operationsPerActor))));
            model.Trace.Add(model.Next(), "---- drain ----");
            var owedTo = (await Task.WhenAll(actors.Select(a => a.DrainAsync()))).OfType<Epoch>().ToList();

            List<Requirement> owed;
            lock (model.Sync)
            {
                owed = ModelChecker.Requirements(model);
            }

            await SendFencesAsync(broker, model, owedTo);
            var (missing, dropped) = await WaitForDeliveriesAsync(broker, model, owed, config);

            var violations = new List<string>(model.Violations);
            string summary;
            var retainedOwed = 0;
            lock (model.Sync)
            {
                ModelChecker.CheckSafety(model, violations);
                if (config.ForbidDrops)
                {
                    retainedOwed = ModelChecker.CheckRetainedOnSubscribe(model, violations);
                    violations.AddRange(missing.Take(5).Select(m => ModelChecker.Describe(model, m)));
                    if (missing.Count > 5)
                    {
                        violations.Add($"... and {missing.Count - 5} more missing deliveries: {string.Join("; ", missing.Skip(5).Take(30))}");
                    }

                    var qos0 = ModelChecker.PossibleQoS0Losses(model);
                    if (DropCounters.AllDropped(broker.Server.Broker) is var all && all > qos0)
                    {
                        violations.Add($"the broker dropped {all} messages although every bound is far above what the run publishes (QoS 0 copies that may have gone to a closing connection: {qos0})");
                    }
                }
                else if (missing.Count > dropped)
                {
                    violations.Add($"{missing.Count} owed deliveries missing but only {dropped} counted as dropped:{Environment.NewLine}"
                        + string.Join(Environment.NewLine, missing.Take(5).Select(m => ModelChecker.Describe(model, m)))
                        + (missing.Count > 5 ? $"{Environment.NewLine}... and: {string.Join("; ", missing.Skip(5).Take(30))}" : ""));
                }

                var published = model.Messages.Values.Count(m => m.Id.Publisher != MsgId.FencePublisher);
                var delivered = model.Epochs.Sum(e => e.Deliveries.Count);
                summary = string.Create(CultureInfo.InvariantCulture,
                    $"{published} messages published ({model.Messages.Values.Count(m => m.Acked is not null && m.Id.Publisher != MsgId.FencePublisher)} acknowledged), "
                    + $"{delivered} deliveries to {model.Epochs.Count} session incarnations, {owed.Count} owed at the end, {missing.Count} missing, {retainedOwed} retained copies owed on subscribe, "
                    + $"{dropped} dropped by the broker, {model.ClosedConnections.Count} connections closed, {stopwatch.Elapsed.TotalSeconds:0.0} s");
            }

            if (violations.Count > 0 && Environment.GetEnvironmentVariable("TERN_MODEL_TRACE") is { Length: > 0 } path)
            {
                await File.WriteAllTextAsync(path, model.Trace.All());
            }

            return new ModelRunResult(seed, config, violations, summary, model.Trace.Tail(TraceLines));
        }
        finally
        {
            foreach (var actor in actors)
            {
                await actor.CloseAsync();
            }
        }
    }

    private static List<ModelActor> CreateActors(ModelContext context, Random rng)
    {
        var actors = new List<ModelActor>();
        var plain = 6 + rng.Next(5);

        // One or two groups of two or three members: a group always has another member to hand a
        // message on to when one leaves.
        var groups = ModelTopics.SharedFilters.OrderBy(_ => rng.Next()).Take(1 + rng.Next(2))
            .SelectMany(g => Enumerable.Repeat(g, 2 + rng.Next(2))).ToList();
        for (var i = 0; i < plain + groups.Count; i++)
        {
            var isShared = i >= plain;
            var filter = isShared ? groups[i - plain] : null;

            // Most clients keep a stored session (what the model checks at the end); a few mostly
            // use sessions that end with the connection.
            var prefersPersistent = rng.Next(100) < 75;
            actors.Add(new ModelActor(context, i + 1, isShared ? ActorRole.Shared : ActorRole.Plain, filter, prefersPersistent, rng.Next()));
        }

        return actors;
    }

    /// <summary>
    /// Publishes a QoS 1 fence to every session owed deliveries. Queues are first in, first out, so
    /// once a session's fence arrived, everything queued for it before has arrived too. A fence can
    /// itself be dropped by a full queue: one that has not arrived after a while is sent again.
    /// </summary>
    private static async Task SendFencesAsync(TestBroker broker, ModelState model, List<Epoch> epochs)
    {
        await using var fencer = await broker.ConnectAsync("model-fence");
        var deadline = DateTime.UtcNow + ModelTimeouts.Drain;
        var seq = 0;
        while (DateTime.UtcNow < deadline)
        {
            List<Epoch> pending;
            lock (model.Sync)
            {
                pending = epochs.Where(e => e.FencesReceived == 0 && e.Alive).ToList();
            }

            if (pending.Count == 0)
            {
                return;
            }

            foreach (var epoch in pending)
            {
                var id = new MsgId(MsgId.FencePublisher, ++seq);
                MessageRecord record;
                lock (model.Sync)
                {
                    record = new MessageRecord(id, epoch.Actor.FenceTopic, MqttQoS.AtLeastOnce, false, model.Next());
                    model.Messages[id] = record;
                }

                await fencer.PublishAsync(epoch.Actor.FenceTopic, id.ToPayload(), MqttQoS.AtLeastOnce);
                lock (model.Sync)
                {
                    record.Acked = model.Next();
                }
            }

            var retryAt = DateTime.UtcNow + ModelTimeouts.FenceRetry;
            while (DateTime.UtcNow < retryAt)
            {
                var pulse = model.Progress.NextAsync();
                lock (model.Sync)
                {
                    if (pending.All(e => e.FencesReceived > 0 || !e.Alive))
                    {
                        break;
                    }
                }

                await WaitAsync(pulse, retryAt);
            }
        }

        lock (model.Sync)
        {
            foreach (var epoch in epochs.Where(e => e.FencesReceived == 0 && e.Alive))
            {
                model.Violation($"{epoch}: no fence message arrived within {ModelTimeouts.Drain.TotalSeconds} s");
            }
        }
    }

    /// <summary>Waits, on deliveries, until nothing owed is missing (or, where drops are allowed, until what is missing is covered by drops).</summary>
    private static async Task<(List<Requirement> Missing, long Dropped)> WaitForDeliveriesAsync(TestBroker broker, ModelState model, List<Requirement> owed, ModelConfig config)
    {
        var deadline = DateTime.UtcNow + ModelTimeouts.Drain;
        var missing = owed;
        while (true)
        {
            var pulse = model.Progress.NextAsync();
            var dropped = DropCounters.OwedDeliveriesDropped(broker.Server.Broker);
            lock (model.Sync)
            {
                missing = missing.Where(r => !r.IsMet(model)).ToList();
            }

            if (missing.Count == 0 || (!config.ForbidDrops && missing.Count <= dropped) || DateTime.UtcNow >= deadline)
            {
                return (missing, dropped);
            }

            await WaitAsync(pulse, deadline);
        }
    }

    private static async Task WaitAsync(Task pulse, DateTime until)
    {
        var left = until - DateTime.UtcNow;
        if (left <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await pulse.WaitAsync(left);
        }
        catch (TimeoutException)
        {
            // The caller re-checks its condition and its deadline.
        }
    }
}
