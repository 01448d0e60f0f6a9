using System.CommandLine;
using Spectre.Console;
using System.Text;
using System.Text.Json;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateRetained() => new("retained", "The broker's retained messages.")
    {
        CreateRetainedList(),
        CreateRetainedShow(),
        CreateRetainedDelete(),
    };

    private static Argument<string> TopicArgument() => new("topic") { Description = "The topic name." };

    private static string RetainedPath(string topic) => "/api/v5/mqtt/retainer/message/" + Uri.EscapeDataString(topic);

    private static string NoRetained(string topic) => $"No retained message on topic '{topic}'.";

    private static Command CreateRetainedList()
    {
        var topic = new Option<string?>("--topic") { Description = "Only topics this filter matches (default #, which leaves out $SYS).", HelpName = "filter" };
        var page = new PageOptions();
        var command = new Command("list", "List retained messages without their payloads (GET /api/v5/mqtt/retainer/messages), sorted by topic.") { topic };
        page.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var query = new CtlQuery();
            query.Add("topic", result.GetValue(topic));
            page.AddTo(query, result);
            var answer = await api.GetAsync("/api/v5/mqtt/retainer/messages" + query, ct).ConfigureAwait(false);
            var messages = answer.Json("GET /api/v5/mqtt/retainer/messages");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = CtlOutput.NewTable("topic", "qos", "published at", "from client");
            foreach (var m in messages.GetProperty("data").EnumerateArray())
            {
                CtlOutput.AddRow(table, CtlOutput.Text(m, "topic"), CtlOutput.Text(m, "qos"), CtlOutput.Text(m, "publish_at"), CtlOutput.Text(m, "from_clientid"));
            }

            table.Caption(CtlOutput.PageCaption(messages, "retained message") ?? "");
            output.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateRetainedShow()
    {
        var topic = TopicArgument();
        var command = new Command("show", "Show the retained message of a topic with its payload (GET /api/v5/mqtt/retainer/message/{topic}); --json gives the payload in base64.") { topic };
        SetAction(command, async (result, api, output, ct) =>
        {
            var name = result.GetValue(topic)!;
            var answer = await api.GetAsync(RetainedPath(name), ct, () => NoRetained(name)).ConfigureAwait(false);
            var message = answer.Json("GET /api/v5/mqtt/retainer/message/{topic}");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            output.Write(CtlOutput.PropertiesTable(message, static (field, value) => field == "payload" && value.ValueKind == JsonValueKind.String ? Payload(value.GetString()!) : null));
            return 0;
        });
        return command;
    }

    private static Command CreateRetainedDelete()
    {
        var topic = TopicArgument();
        var command = new Command("delete", "Delete the retained message of a topic (DELETE /api/v5/mqtt/retainer/message/{topic}); current subscribers get nothing.") { topic };
        SetAction(command, async (result, api, output, ct) =>
        {
            var name = result.GetValue(topic)!;
            await api.DeleteAsync(RetainedPath(name), ct, () => NoRetained(name)).ConfigureAwait(false);
            CtlOutput.Confirm($"Deleted the retained message of '{name}'.");
            return 0;
        });
        return command;
    }

    /// <summary>A base64 payload for people: the text when it is UTF-8 without control characters, else hex.</summary>
    private static string Payload(string base64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return base64;
        }

        if (bytes.Length == 0)
        {
            return "(empty)";
        }

        try
        {
            var text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
            if (!text.Any(static c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                return text;
            }
        }
        catch (DecoderFallbackException)
        {
            // Not text: shown in hex below.
        }

        // A long binary payload would fill the screen: its start is enough to recognise it.
        const int Shown = 64;
        return bytes.Length <= Shown
            ? $"{bytes.Length} bytes (hex): {Convert.ToHexString(bytes)}"
            : $"{bytes.Length} bytes (hex): {Convert.ToHexString(bytes, 0, Shown)}... (--json for all of it, in base64)";
    }
}
