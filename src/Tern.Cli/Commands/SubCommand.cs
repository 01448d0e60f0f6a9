using System.CommandLine;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// <c>tern sub</c>: mosquitto_sub's flags. Prints each message as it arrives (payload, "topic payload"
/// with -v, or one JSON object with --json) until Ctrl+C, -C count or -W seconds.
/// </summary>
internal static class SubCommand
{
    /// <summary>mosquitto_sub's exit code when -W expires (MOSQ_ERR_TIMEOUT), so scripts can tell it apart.</summary>
    public const int TimedOutExitCode = 27;

    public static Command Create()
    {
        var shared = new ClientOptions();
        var topics = new Option<string[]>("--topic", "-t")
        {
            Description = "Topic filter to subscribe to (+ and # wildcards); repeat for more.",
            HelpName = "filter",
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print \"topic payload\" instead of the payload alone." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per message: topic, payload (UTF-8, or base64 when binary), encoding, qos, retain, MQTT 5 properties." };
        var count = new Option<int?>("--count", "-C") { Description = "Exit after this many messages.", HelpName = "count" };
        var timeout = new Option<int?>("--timeout", "-W") { Description = $"Exit with code {TimedOutExitCode} after this many seconds (counted from the connection), as mosquitto_sub does.", HelpName = "seconds" };
        var noRetained = new Option<bool>("--no-retained", "-R") { Description = "Do not print retained (stale) messages." };
        var exitOnSubscribed = new Option<bool>("--exit-on-subscribed", "-E") { Description = "Exit once the broker confirmed the subscriptions (e.g. to create a persistent session with -c)." };

        var command = new Command("sub", "Subscribe and print messages, as mosquitto_sub does: tern sub -t 'topic/#' [-v] [-q 1].")
        {
            topics, verbose, json, count, timeout, noRetained, exitOnSubscribed,
        };
        shared.AddTo(command);
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var settings = ClientSettings.From(result, shared);
                List<string> filters = [.. result.GetValue(topics) ?? []];
                if (settings.UrlTopic is { } urlTopic)
                {
                    filters.Add(urlTopic);
                }

                if (filters.Count == 0)
                {
                    throw new ClientUsageException("Give at least one topic filter with -t (or in the -L URL).");
                }

                if (filters.Find(f => !MqttTopic.IsValidTopicFilter(f)) is { } bad)
                {
                    throw new ClientUsageException($"'{bad}' is not a valid topic filter (+ and # must fill a whole level, # only at the end).");
                }

                int? limit = result.GetValue(count);
                int? seconds = result.GetValue(timeout);
                if (limit is < 1 || seconds is < 1)
                {
                    throw new ClientUsageException(limit is < 1 ? "-C must be at least 1." : "-W must be at least 1 second.");
                }

                var run = new SubRun(settings, filters, new SubOutput(Console.OpenStandardOutput(), result.GetValue(verbose), result.GetValue(json)),
                    limit, seconds, result.GetValue(noRetained), result.GetValue(exitOnSubscribed));
                return await run.RunAsync(ct).ConfigureAwait(false);
            }
            catch (ClientUsageException ex)
            {
                await Console.Error.WriteLineAsync("Error: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private sealed record SubRun(
        ClientSettings Settings, IReadOnlyList<string> Filters, SubOutput Output, int? Limit, int? Seconds, bool NoRetained, bool ExitOnSubscribed)
    {
        public async Task<int> RunAsync(CancellationToken ct)
        {
            // Linked so that -W ends the read loop the same way Ctrl+C does; the flag tells them apart.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            IAsyncEnumerable<MqttMessage>? messages = null;
            ClientConnection connection;
            try
            {
                // Capture from before CONNECT: retained and queued (-c) messages may beat the SUBACK.
                connection = await ClientConnection.ConnectAsync(Settings, c => messages = c.ReadMessagesAsync(stop.Token), ct).ConfigureAwait(false);
            }
            catch (ClientConnectException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0;
            }

            await using (connection.ConfigureAwait(false))
            {
                // Connected once: from now on a lost connection is retried and the client resubscribes.
                connection.Client.Options.AutoReconnect = true;
                if (Seconds is { } s)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(s));
                }

                try
                {
                    if (await SubscribeAsync(connection, stop.Token).ConfigureAwait(false) is { } error)
                    {
                        await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
                        return 1;
                    }

                    if (ExitOnSubscribed)
                    {
                        return 0;
                    }

                    int received = 0;
                    await foreach (var message in messages!.ConfigureAwait(false))
                    {
                        if (NoRetained && message.Retain)
                        {
                            continue;
                        }

                        await Output.WriteAsync(message, stop.Token).ConfigureAwait(false);
                        if (++received == Limit)
                        {
                            return 0;
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    if (ct.IsCancellationRequested)
                    {
                        return 0; // Ctrl+C or SIGTERM: a normal way to end a subscription
                    }

                    await Console.Error.WriteLineAsync("Timed out").ConfigureAwait(false);
                    return TimedOutExitCode;
                }
            }

            return 0;
        }

        /// <summary>Subscribes to all filters in one SUBSCRIBE; returns an error line when the broker refused them all.</summary>
        private async Task<string?> SubscribeAsync(ClientConnection connection, CancellationToken ct)
        {
            var subscriptions = Filters.Select(f => new TopicSubscription(f, new SubscriptionOptions(Settings.QoS))).ToArray();
            var properties = Settings.IsV5 && Settings.Properties.Subscribe != MqttProperties.Empty ? Settings.Properties.Subscribe : null;
            var subscribe = connection.Client.SubscribeAsync(subscriptions, properties, ct);
            if (await Task.WhenAny(subscribe, connection.Lost).ConfigureAwait(false) != subscribe)
            {
                return connection.LostLine(await connection.Lost.ConfigureAwait(false)) + " (before the broker confirmed the subscription)";
            }

            SubscribeResult result;
            try
            {
                result = await subscribe.ConfigureAwait(false);
            }
            catch (MqttClientException ex)
            {
                return $"Subscribe failed: {ex.Message}";
            }

            if (Settings.Debug)
            {
                await Console.Error.WriteLineAsync($"Subscribed (mid: {result.MessageId}): {string.Join(", ", result.ReasonCodes)}").ConfigureAwait(false);
            }

            var refused = new List<string>();
            for (int i = 0; i < result.ReasonCodes.Count && i < Filters.Count; i++)
            {
                if (result.ReasonCodes[i] >= 0x80)
                {
                    refused.Add($"'{Filters[i]}': {Refusal(result.ReasonCodes[i])}");
                }
            }

            if (refused.Count == 0)
            {
                return null;
            }

            string line = "Subscription refused: " + string.Join("; ", refused);
            if (refused.Count < Filters.Count)
            {
                await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
                return null;
            }

            return line;
        }

        private string Refusal(byte code) => Settings.IsV5
            ? $"{ClientConnection.Describe((ReasonCode)code)} (SUBACK 0x{code:X2})"
            : $"failure (SUBACK 0x{code:X2})";
    }
}
