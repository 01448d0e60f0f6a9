using System.CommandLine;
using Spectre.Console;
using Tern.Cli.Bench;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// <c>tern bench conn|pub|sub|pubsub</c>: a load generator on raw sockets (pre-encoded packets, batched
/// writes, frame-only parsing) that reports rates, loss, duplicates and end-to-end latency.
/// </summary>
internal static partial class BenchCommand
{
    public static Command Create()
    {
        var command = new Command(
            "bench",
            "Benchmark an MQTT broker (any broker, MQTT 3.1.1): open connections, publish, subscribe, or both in one process. "
            + "Payloads carry a stream id, a sequence number and a timestamp, so subscribers count gaps, duplicates and latency.")
        {
            CreateConn(),
            CreatePub(),
            CreateSub(),
            CreatePubSub(),
        };
        return command;
    }

    private static Command CreateConn()
    {
        var o = new CommonOptions();
        var count = CountOption("Connections to open.", 1000);
        var hold = DurationOption("Seconds to hold the connections open after the last one connected (default: until Ctrl+C).");
        var rate = new Option<double?>("--rate") { Description = "New connections per second (default: as fast as 256 concurrent handshakes allow).", HelpName = "per-second" };
        var ready = new Option<FileInfo?>("--ready-file") { Description = "Write the number connected to this file once all connections are open (for scripts).", HelpName = "file" };
        var command = new Command("conn", "Open connections at a paced rate and hold them; report the connect rate and failures.") { count, rate, hold, ready };
        o.AddTo(command);
        command.SetAction((r, ct) =>
        {
            var runner = new ConnRunner(o.Target(r), r.GetValue(count), r.GetValue(rate) ?? 0, Seconds(r.GetValue(hold)), o.Prefix(r), r.GetValue(ready), o.ProgressWriter(r));
            return RunAsync(r.GetValue(o.Json), runner.RunAsync, ct);
        });
        return command;
    }

    private static Command CreatePub()
    {
        var o = new CommonOptions();
        var p = new PublishOptions(defaultCount: 10);
        var command = new Command("pub", "Publish from many connections; the topic may contain %i (client index) and %j (topic index, see --topics).");
        o.AddTo(command);
        p.AddTo(command);
        command.SetAction((r, ct) =>
        {
            var settings = p.Apply(r, new BenchSettings { Target = o.Target(r), ClientPrefix = o.Prefix(r), ConnectRate = r.GetValue(o.ConnectRate) }) with
            {
                Rate = p.Rate(r),
            };
            return RunPubSubAsync(settings, o, r, ct);
        });
        return command;
    }

    private static Command CreateSub()
    {
        var o = new CommonOptions();
        var count = CountOption("Subscribing connections.", 100);
        var topic = TopicOption("Topic filter; %i is the subscriber's index.", "bench/#");
        var qos = QoSOption("Subscription QoS.");
        var duration = DurationOption("Seconds to listen: the measured window (default: until Ctrl+C).");
        var command = new Command("sub", "Subscribe from many connections; count messages, sequence gaps and duplicates per publisher, and end-to-end latency (from 'tern bench pub' on the same machine).")
        {
            count, topic, qos, duration,
        };
        o.AddTo(command);
        command.SetAction((r, ct) =>
        {
            var settings = new BenchSettings
            {
                Target = o.Target(r),
                ClientPrefix = o.Prefix(r),
                ConnectRate = r.GetValue(o.ConnectRate),
                Subscribers = r.GetValue(count),
                SubscribeFilter = r.GetValue(topic)!,
                SubscribeQoS = r.GetValue(qos),
                Duration = Seconds(r.GetValue(duration)),
            };
            return RunPubSubAsync(settings, o, r, ct);
        });
        return command;
    }

    private static Command CreatePubSub()
    {
        var o = new CommonOptions();
        var p = new PublishOptions(defaultCount: 1);
        var subs = new Option<int>("--subscribers", "-S") { Description = "Subscribing connections.", DefaultValueFactory = _ => 1, HelpName = "count" };
        var filter = new Option<string>("--sub-topic", "-T") { Description = "Subscribers' topic filter; %i is the subscriber's index (e.g. bench/%i pairs subscriber i with publisher i).", DefaultValueFactory = _ => "bench/#", HelpName = "filter" };
        var maxLag = new Option<long>("--max-lag")
        {
            Description = "Messages that may be sent but not yet received by any one subscriber; publishers pause beyond it. "
                + "The default is the default queue bound per client of Tern and Mosquitto, so a loss is the broker's. 0: open loop.",
            DefaultValueFactory = _ => BenchSettings.DefaultMaxLag,
            HelpName = "messages",
        };
        var warmup = new Option<double>("--warmup") { Description = "Seconds at the start whose messages count but whose latencies are not recorded (the broker's and this tool's JIT warm up).", DefaultValueFactory = _ => 0, HelpName = "seconds" };
        var subQos = new Option<MqttQoS?>("--sub-qos") { Description = "Subscription QoS (default: the publish QoS).", HelpName = "0|1|2", CustomParser = a => ParseQoS(a) };
        var subTopics = new Option<int>("--sub-topics")
        {
            Description = "Filters each subscriber subscribes to (%j in the filter: 0..count-1), e.g. -T 'bench/%i/%j' --sub-topics 10000 for 10,000 exact subscriptions each.",
            DefaultValueFactory = _ => 1,
            HelpName = "count",
            Validators = { Positive },
        };
        var subRate = new Option<double?>("--sub-rate")
        {
            Description = "Messages per second each subscriber takes (reads, acknowledges, counts); the rest waits in its socket and the broker's queue. Default: as fast as it can.",
            HelpName = "per-second",
            Validators = { NotNegative },
        };
        var churn = new Option<double>("--churn")
        {
            Description = "Subscribes and unsubscribes per second, in all, by extra connections while the run publishes (filters with wildcards that match a published topic, and that do not).",
            HelpName = "per-second",
            Validators = { NotNegative },
        };
        var churnClients = new Option<int>("--churn-clients") { Description = "Connections that share --churn; each has up to 16 requests unanswered, then waits.", DefaultValueFactory = _ => 20, HelpName = "count", Validators = { Positive } };
        var drain = new Option<double?>("--drain")
        {
            Description = "Longest wait after the window for deliveries and acknowledgements still on their way (default 2 s, a tenth of a window over 20 s, at most 10 s); it ends sooner when all arrived or nothing came for 1 s.",
            HelpName = "seconds",
            Validators = { NotNegative },
        };
        var command = new Command(
            "pubsub",
            "Publishers and subscribers in one process: delivered messages per second at the subscribers, loss (expected minus delivered), duplicates, latency. "
            + "Only this run's messages count (retained and other clients' messages are ignored and reported).")
        {
            subs, filter, subTopics, subQos, maxLag, warmup, subRate, churn, churnClients, drain,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(subTopics) > 1 && !r.GetValue(filter)!.Contains("%j", StringComparison.Ordinal))
            {
                r.AddError("--sub-topics needs %j in the subscribers' filter (-T), or every subscription would be the same.");
            }
        });
        o.AddTo(command);
        p.AddTo(command);
        command.SetAction((r, ct) =>
        {
            var settings = p.Apply(r, new BenchSettings { Target = o.Target(r), ClientPrefix = o.Prefix(r), ConnectRate = r.GetValue(o.ConnectRate) }) with
            {
                Rate = p.Rate(r),
                Subscribers = r.GetValue(subs),
                SubscribeFilter = r.GetValue(filter)!,
                SubscribeTopics = r.GetValue(subTopics),
                MaxLag = r.GetValue(maxLag),
                Warmup = TimeSpan.FromSeconds(Math.Max(0, r.GetValue(warmup))),
                SubscriberRate = r.GetValue(subRate) ?? 0,
                Churn = r.GetValue(churn),
                ChurnClients = r.GetValue(churnClients),
                Drain = r.GetValue(drain) is { } d ? TimeSpan.FromSeconds(d) : null,
            };
            settings = settings with { SubscribeQoS = r.GetValue(subQos) ?? settings.PublishQoS };
            return RunPubSubAsync(settings, o, r, ct);
        });
        return command;
    }

    private static Task<int> RunPubSubAsync(BenchSettings settings, CommonOptions o, ParseResult r, CancellationToken ct)
    {
        var progress = o.ProgressWriter(r) is { } writer ? new BenchProgress(writer) : null;
        var runner = new PubSubRunner(settings, progress);
        return RunAsync(r.GetValue(o.Json), runner.RunAsync, ct);
    }

    private static async Task<int> RunAsync(bool json, Func<CancellationToken, Task<BenchResult>> run, CancellationToken ct)
    {
        BenchResult result;
        try
        {
            result = await run(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BenchException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"tern bench: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        if (json)
        {
            await Console.Out.WriteLineAsync(BenchOutput.ToJson(result)).ConfigureAwait(false);
        }
        else
        {
            BenchOutput.WriteTable(AnsiConsole.Console, result);
        }

        return result.ClientErrors > 0 || result.ConnectFailures > 0 ? 2 : 0;
    }

    private static TimeSpan? Seconds(double? seconds) => seconds is { } s && s > 0 ? TimeSpan.FromSeconds(s) : null;
}
