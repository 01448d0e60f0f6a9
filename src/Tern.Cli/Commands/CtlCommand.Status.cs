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
        var command = new Command("status", "The broker's version, uptime, connections, sessions, subscriptions, retained messages, messages in and out, drops and store (GET /api/v5/nodes, /stats, /metrics).");
        SetAction(command, async (result, api, output, ct) =>
        {
            var answers = await Task.WhenAll(
                api.GetAsync("/api/v5/nodes", ct),
                api.GetAsync("/api/v5/stats?aggregate=true", ct),
                api.GetAsync("/api/v5/metrics?aggregate=true", ct)).ConfigureAwait(false);
            var nodes = answers[0].Json("GET /api/v5/nodes");
            var node = nodes.ValueKind == JsonValueKind.Array && nodes.GetArrayLength() > 0 ? nodes[0] : default;
            var stats = answers[1].Json("GET /api/v5/stats");
            var metrics = answers[2].Json("GET /api/v5/metrics");
            if (output.IsJson)
            {
                // One document for scripts: the three answers side by side, as the API gives them.
                var all = new JsonObject
                {
                    ["node"] = JsonNode.Parse(node.ValueKind == JsonValueKind.Undefined ? "null" : node.GetRawText()),
                    ["stats"] = JsonNode.Parse(stats.GetRawText()),
                    ["metrics"] = JsonNode.Parse(metrics.GetRawText()),
                };
                CtlOutput.WriteJson(new CtlAnswer(HttpStatusCode.OK, all.ToJsonString()));
                return 0;
            }

            var table = CtlOutput.NewTable("broker", "value");
            table.Title(Markup.Escape($"Tern at {api.Url}"));
            CtlOutput.AddRow(table, "version", CtlOutput.Text(node, "version"));
            CtlOutput.AddRow(table, "uptime", node.ValueKind == JsonValueKind.Object && node.TryGetProperty("uptime", out var up) && up.TryGetInt64(out var ms) ? Uptime(ms / 1000) : "-");
            CtlOutput.AddRow(table, "connections", CtlOutput.Number(stats, "connections.count"));
            CtlOutput.AddRow(table, "sessions", CtlOutput.Number(stats, "sessions.count"));
            CtlOutput.AddRow(table, "subscriptions", CtlOutput.Number(stats, "subscriptions.count"));
            CtlOutput.AddRow(table, "retained messages", CtlOutput.Number(stats, "retained.count"));
            CtlOutput.AddRow(table, "messages in / out", $"{CtlOutput.Number(metrics, "messages.received")} / {CtlOutput.Number(metrics, "messages.sent")}");
            CtlOutput.AddRow(table, "bytes in / out", $"{CtlOutput.Number(metrics, "bytes.received")} / {CtlOutput.Number(metrics, "bytes.sent")}");
            CtlOutput.AddRow(table, "messages dropped", Drops(metrics));
            CtlOutput.AddRow(table, "connections since start", $"{CtlOutput.Number(metrics, "client.connect")} ({CtlOutput.Number(metrics, "client.connack.failure")} refused)");
            CtlOutput.AddRow(table, "store", Store(node));
            output.Write(table);
            return 0;
        });
        return command;
    }

    /// <summary>The total of drops (<c>messages.dropped</c>), and the reasons (<c>messages.dropped.*</c>) that counted any.</summary>
    private static string Drops(JsonElement metrics)
    {
        const string Prefix = "messages.dropped.";
        var reasons = metrics.ValueKind == JsonValueKind.Object
            ? metrics.EnumerateObject()
                .Where(static r => r.Name.StartsWith(Prefix, StringComparison.Ordinal) && r.Value.TryGetInt64(out var n) && n > 0)
                .Select(static r => $"{r.Name[Prefix.Length..]} {r.Value.GetInt64().ToString("N0", CultureInfo.InvariantCulture)}")
                .ToArray()
            : [];
        var total = CtlOutput.Number(metrics, "messages.dropped");
        return reasons.Length == 0 ? total : $"{total} ({string.Join(", ", reasons)})";
    }

    /// <summary>The node's store in one cell: mode, path, size, last commit, and its failure if any.</summary>
    private static string Store(JsonElement node)
    {
        if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty("store", out var store) || store.ValueKind != JsonValueKind.Object)
        {
            return "none (Persistence:Mode memory: nothing survives a restart)";
        }

        var size = store.TryGetProperty("size_bytes", out var bytes) && bytes.TryGetInt64(out var b) ? Bytes(b) : "-";
        var text = $"{CtlOutput.Text(store, "mode")}, {CtlOutput.Text(store, "path")}, {size}, last commit {CtlOutput.Text(store, "last_commit")}";
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
