using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateTrace() => new("trace", "Follow what one client or one topic does, live (POST /api/v5/trace, then its log): packets in and out, and drops.")
    {
        CreateTraceOf("client", "clientid", "client-id", "The client id to follow."),
        CreateTraceOf("topic", "topic", "filter", "The topic filter to follow (wildcards allowed)."),
    };

    private static Command CreateTraceOf(string name, string type, string argumentName, string description)
    {
        var target = new Argument<string>(argumentName) { Description = description };
        var seconds = new Option<int?>("--seconds") { Description = "Stop after this many seconds (default: until Ctrl-C).", HelpName = "n" };
        var command = new Command(name, $"Print each packet of the {(name == "client" ? "client" : "topic")} as a line while it happens; the trace is deleted when this stops.") { target, seconds };
        SetAction(command, async (result, api, output, ct) =>
        {
            var value = result.GetValue(target)!;
            var traceName = string.Create(CultureInfo.InvariantCulture, $"ctl-{Environment.ProcessId}-{Environment.TickCount64 % 100000}");
            var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["name"] = traceName, ["type"] = type, [type] = value });
            await api.PostAsync("/api/v5/trace", body, ct).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"Tracing {(name == "client" ? "client id" : "topic")} '{value}' (trace {traceName}); Ctrl-C to stop.").ConfigureAwait(false);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (result.GetValue(seconds) is { } s)
            {
                limit.CancelAfter(TimeSpan.FromSeconds(Math.Max(0, s)));
            }

            long position = 0;
            try
            {
                while (!limit.IsCancellationRequested)
                {
                    var answer = await api.GetAsync(string.Create(CultureInfo.InvariantCulture, $"/api/v5/trace/{traceName}/log?position={position}&bytes=1048576"), limit.Token).ConfigureAwait(false);
                    var log = answer.Json("GET /api/v5/trace/{name}/log");
                    var items = log.GetProperty("items").GetString() ?? "";
                    position = log.GetProperty("meta").GetProperty("position").GetInt64();
                    if (items.Length > 0)
                    {
                        await Console.Out.WriteAsync(items).ConfigureAwait(false);
                        await Console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                    else
                    {
                        // Polling, as one follows a growing file: a line shows within half a second.
                        await Task.Delay(500, limit.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                // Ctrl-C or --seconds: the normal end.
            }
            finally
            {
                await api.DeleteAsync($"/api/v5/trace/{traceName}", CancellationToken.None).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }
}
