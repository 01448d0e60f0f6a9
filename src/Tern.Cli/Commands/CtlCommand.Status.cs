using System.CommandLine;
using Spectre.Console;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateStatus()
    {
        var command = new Command("status", "The broker's version, uptime, connections, sessions, subscriptions, retained messages, messages in and out, drops and store (GET /api/v1/stats).");
        SetAction(command, async (result, api, output, ct) =>
        {
            var answer = await api.GetAsync("/api/v1/stats", ct).ConfigureAwait(false);
            var stats = answer.Json("GET /api/v1/stats");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = CtlOutput.NewTable("broker", "value");
            table.Title(Markup.Escape($"Tern at {api.Url}"));
            CtlOutput.AddRow(table, "version", CtlOutput.Text(stats, "version"));
            CtlOutput.AddRow(table, "uptime", stats.TryGetProperty("uptimeSeconds", out var up) && up.TryGetInt64(out var seconds) ? Uptime(seconds) : "-");
            CtlOutput.AddRow(table, "connections", CtlOutput.Number(stats, "connections"));
            CtlOutput.AddRow(table, "sessions", CtlOutput.Number(stats, "sessions"));
            CtlOutput.AddRow(table, "subscriptions", CtlOutput.Number(stats, "subscriptions"));
            CtlOutput.AddRow(table, "retained messages", CtlOutput.Number(stats, "retained"));
            CtlOutput.AddRow(table, "messages in / out", $"{CtlOutput.Number(stats, "messagesReceived")} / {CtlOutput.Number(stats, "messagesSent")}");
            CtlOutput.AddRow(table, "bytes in / out", $"{CtlOutput.Number(stats, "bytesReceived")} / {CtlOutput.Number(stats, "bytesSent")}");
            CtlOutput.AddRow(table, "messages dropped", Drops(stats));
            CtlOutput.AddRow(table, "connections since start", $"{CtlOutput.Number(stats, "connectionsTotal")} ({CtlOutput.Number(stats, "connectionsRefused")} refused)");
            CtlOutput.AddRow(table, "store", Store(stats));
            output.Write(table);
            return 0;
        });
        return command;
    }

    /// <summary>The total of drops, and the reasons that counted any.</summary>
    private static string Drops(JsonElement stats)
    {
        var reasons = stats.TryGetProperty("dropped", out var dropped) && dropped.ValueKind == JsonValueKind.Object
            ? dropped.EnumerateObject().Where(static r => r.Value.TryGetInt64(out var n) && n > 0).Select(static r => $"{r.Name} {r.Value.GetInt64().ToString("N0", CultureInfo.InvariantCulture)}").ToArray()
            : [];
        var total = CtlOutput.Number(stats, "messagesDropped");
        return reasons.Length == 0 ? total : $"{total} ({string.Join(", ", reasons)})";
    }

    /// <summary>The store in one cell: mode, path, size, last commit, and its failure if any.</summary>
    private static string Store(JsonElement stats)
    {
        if (!stats.TryGetProperty("store", out var store) || store.ValueKind != JsonValueKind.Object)
        {
            return "none (Persistence:Mode memory: nothing survives a restart)";
        }

        var size = store.TryGetProperty("sizeBytes", out var bytes) && bytes.TryGetInt64(out var b) ? Bytes(b) : "-";
        var text = $"{CtlOutput.Text(store, "mode")}, {CtlOutput.Text(store, "path")}, {size}, last commit {CtlOutput.Text(store, "lastCommit")}";
        return store.TryGetProperty("failure", out var failure) && failure.ValueKind == JsonValueKind.String
            ? $"{text}; FAILED: {failure.GetString()}"
            : text;
    }

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F1} GiB"),
    };

    /// <summary>Seconds as "3d 04h 05m 06s", leaving out the leading zero units.</summary>
    private static string Uptime(long seconds)
    {
        var span = TimeSpan.FromSeconds(seconds);
        return span.TotalDays >= 1 ? $"{(int)span.TotalDays}d {span.Hours:D2}h {span.Minutes:D2}m {span.Seconds:D2}s"
            : span.TotalHours >= 1 ? $"{span.Hours}h {span.Minutes:D2}m {span.Seconds:D2}s"
            : span.TotalMinutes >= 1 ? $"{span.Minutes}m {span.Seconds:D2}s"
            : $"{span.Seconds}s";
    }

    private static Command CreatePublish()
    {
        var topic = new Argument<string>("topic") { Description = "The topic name (no + or #)." };
        var payload = new Argument<string>("payload") { Description = "The payload, sent as UTF-8 text." };
        var qos = new Option<int>("--qos", "-q") { Description = "QoS 0, 1 or 2.", HelpName = "0|1|2" };
        var retain = new Option<bool>("--retain", "-r") { Description = "Keep it as the topic's retained message." };
        var command = new Command("publish", "Publish a message as the broker (POST /api/v5/publish).") { topic, payload, qos, retain };
        SetAction(command, async (result, api, output, ct) =>
        {
            var topicName = result.GetValue(topic)!;
            var body = new JsonObject
            {
                ["topic"] = topicName,
                ["payload"] = result.GetValue(payload),
                ["qos"] = result.GetValue(qos),
                ["retain"] = result.GetValue(retain),
            };
            var answer = await api.PostAsync("/api/v5/publish", body.ToJsonString(), ct).ConfigureAwait(false);
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
            }

            var retained = result.GetValue(retain) ? " and retained it" : "";
            CtlOutput.Confirm(answer.Status == HttpStatusCode.Accepted
                ? $"Published to '{topicName}'{retained}; no subscriber matched."
                : $"Published to '{topicName}'{retained}.");
            return 0;
        });
        return command;
    }
}
