using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Tern.Cli.Bench;

/// <summary>The end of a run: a table for people, or one JSON object for scripts (<c>--json</c>).</summary>
internal static class BenchOutput
{
    public static string Micros(double micros) =>
        double.IsNaN(micros) ? "-"
        : micros >= 10_000 ? string.Create(CultureInfo.InvariantCulture, $"{micros / 1000:F1} ms")
        : string.Create(CultureInfo.InvariantCulture, $"{micros:F0} µs");

    public static void WriteTable(IAnsiConsole console, BenchResult r)
    {
        var table = new Table().Title($"tern bench {r.Mode}").AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

        if (r.Mode == "conn")
        {
            Row("connections", N(r.Connected));
            Row("failed", N(r.ConnectFailures));
            Row("connect rate", $"{N(r.ConnectsPerSecond)}/s");
            Row("CONNECT→CONNACK p50 / p99", $"{Micros(r.LatencyP50Micros)} / {Micros(r.LatencyP99Micros)}");
        }
        else
        {
            Row("publishers / subscribers", $"{r.Publishers} / {r.Subscribers}");
            if (r.Topics > r.Publishers || r.Subscriptions > r.Subscribers)
            {
                Row("topics / subscriptions", $"{N(r.Topics)} / {N(r.Subscriptions)}");
            }

            Row("QoS, payload", $"{r.QoS}, {r.PayloadSize} B");
            Row("measured seconds", r.Seconds.ToString("F2", CultureInfo.InvariantCulture));
            if (r.MaxLag >= 0)
            {
                Row("max lag per subscriber", r.MaxLag == 0 ? "open loop" : N(r.MaxLag));
            }

            if (r.SubscriberRate > 0)
            {
                Row("each subscriber takes", $"{N(r.SubscriberRate)} msg/s");
            }

            if (r.Publishers > 0)
            {
                Row("sent", $"{N(r.Sent)} ({N(r.SentPerSecond)}/s)");
            }

            if (r.Acked >= 0)
            {
                Row("acknowledged by the broker", N(r.Acked));
            }

            if (r.Subscribers > 0)
            {
                Row("received", r.ReceivedLate > 0
                    ? $"{N(r.Received)} ({N(r.ReceivedPerSecond)}/s; {N(r.ReceivedLate)} after the window)"
                    : $"{N(r.Received)} ({N(r.ReceivedPerSecond)}/s)");
                if (r.Expected >= 0)
                {
                    Row("expected", N(r.Expected));
                    Row("lost", $"{N(r.Lost)} ({(r.Expected > 0 ? 100.0 * r.Lost / r.Expected : 0):F2} %)");
                }

                if (r.AckedNotDelivered >= 0)
                {
                    Row("acknowledged, never delivered", N(r.AckedNotDelivered));
                }

                if (r.DrainEnd is not null && r.Publishers > 0)
                {
                    Row("drain after the window", $"{r.DrainSeconds.ToString("F2", CultureInfo.InvariantCulture)} s, {DrainText(r.DrainEnd)}");
                }

                if (r.IgnoredRetained > 0 || r.IgnoredForeign > 0)
                {
                    Row("ignored: retained / other clients", $"{N(r.IgnoredRetained)} / {N(r.IgnoredForeign)}");
                }

                Row("sequence gaps / duplicates", $"{N(r.Gaps)} / {N(r.Duplicates)}");
                Row("latency p50 / p90 / p99", $"{Micros(r.LatencyP50Micros)} / {Micros(r.LatencyP90Micros)} / {Micros(r.LatencyP99Micros)}");
                Row("latency p99.9 / max", $"{Micros(r.LatencyP999Micros)} / {Micros(r.LatencyMaxMicros)}");
            }
        }

        if (r.ChurnRate > 0)
        {
            Row("churn: clients, requested", $"{r.ChurnClients}, {N(r.ChurnRate)} subscribe/unsubscribe per s");
            Row("churn: acknowledged", $"{N(r.ChurnOperations)} ({N(r.ChurnOperationsPerSecond)}/s), {N(r.ChurnFailures)} failed");
            Row("churn: SUBACK/UNSUBACK p50 / p99", $"{Micros(r.ChurnLatencyP50Micros)} / {Micros(r.ChurnLatencyP99Micros)}");
            Row("churn: messages to churn clients", N(r.ChurnDeliveries));
        }

        if (!r.CleanSession)
        {
            Row("persistent sessions ended after the run", N(r.SessionsEnded));
        }

        if (!double.IsNaN(r.LoadCpuPercent))
        {
            Row("load generator CPU", $"{r.LoadCpuPercent:F0} % of a core");
        }

        if (r.ClientErrors > 0)
        {
            Row("client errors", $"{r.ClientErrors}: {r.FirstError}");
        }

        console.Write(table);
    }

    private static string DrainText(string end) => end switch
    {
        "complete" => "everything arrived and was acknowledged",
        "quiet" => "nothing more came for 1 s",
        _ => "cut off at the limit (--drain)",
    };

    public static string ToJson(BenchResult r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("mode", r.Mode);
            w.WriteNumber("publishers", r.Publishers);
            w.WriteNumber("subscribers", r.Subscribers);
            w.WriteNumber("topics", r.Topics);
            w.WriteNumber("subscriptions", r.Subscriptions);
            w.WriteNumber("qos", r.QoS);
            Number(w, "subscriberRate", r.SubscriberRate);
            w.WriteNumber("payloadSize", r.PayloadSize);
            w.WriteNumber("maxLag", r.MaxLag);
            Number(w, "seconds", r.Seconds);
            w.WriteNumber("sent", r.Sent);
            Number(w, "sentPerSecond", r.SentPerSecond);
            w.WriteNumber("expected", r.Expected);
            w.WriteNumber("received", r.Received);
            Number(w, "receivedPerSecond", r.ReceivedPerSecond);
            w.WriteNumber("receivedLate", r.ReceivedLate);
            w.WriteNumber("lost", r.Lost);
            w.WriteNumber("acked", r.Acked);
            w.WriteNumber("ackedNotDelivered", r.AckedNotDelivered);
            Number(w, "drainSeconds", r.DrainSeconds);
            if (r.DrainEnd is not null)
            {
                w.WriteString("drainEnd", r.DrainEnd);
            }

            w.WriteNumber("gaps", r.Gaps);
            w.WriteNumber("duplicates", r.Duplicates);
            w.WriteNumber("ignoredRetained", r.IgnoredRetained);
            w.WriteNumber("ignoredForeign", r.IgnoredForeign);
            w.WriteNumber("latencies", r.Latencies);
            Number(w, "latencyP50Us", r.LatencyP50Micros);
            Number(w, "latencyP90Us", r.LatencyP90Micros);
            Number(w, "latencyP99Us", r.LatencyP99Micros);
            Number(w, "latencyP999Us", r.LatencyP999Micros);
            Number(w, "latencyMaxUs", r.LatencyMaxMicros);
            if (r.ChurnRate > 0)
            {
                Number(w, "churnRate", r.ChurnRate);
                w.WriteNumber("churnClients", r.ChurnClients);
                w.WriteNumber("churnOps", r.ChurnOperations);
                Number(w, "churnOpsPerSecond", r.ChurnOperationsPerSecond);
                w.WriteNumber("churnFailures", r.ChurnFailures);
                w.WriteNumber("churnDeliveries", r.ChurnDeliveries);
                Number(w, "churnLatencyP50Us", r.ChurnLatencyP50Micros);
                Number(w, "churnLatencyP99Us", r.ChurnLatencyP99Micros);
            }

            w.WriteNumber("connected", r.Connected);
            w.WriteNumber("connectFailures", r.ConnectFailures);
            Number(w, "connectsPerSecond", r.ConnectsPerSecond);
            w.WriteBoolean("cleanSession", r.CleanSession);
            w.WriteNumber("sessionsEnded", r.SessionsEnded);
            w.WriteNumber("clientErrors", r.ClientErrors);
            Number(w, "loadCpuPercent", r.LoadCpuPercent);
            if (r.FirstError is not null)
            {
                w.WriteString("firstError", r.FirstError);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteNumber(name, Math.Round(value, 2));
        }
    }
}
