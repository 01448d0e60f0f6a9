using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// <c>tern pub</c>: mosquitto_pub's flags. Exits 0 once every message is acknowledged (QoS 1/2) or
/// written (QoS 0) and a clean DISCONNECT is sent.
/// </summary>
internal static class PubCommand
{
    // With -l, at most this many QoS 1/2 messages wait for their acknowledgement at once: enough to
    // keep the connection busy, well below the client's outbox limit.
    private const int Window = 64;

    public static Command Create()
    {
        var shared = new ClientOptions();
        var topic = new Option<string?>("--topic", "-t") { Description = "Topic to publish to.", HelpName = "topic" };
        var message = new Option<string?>("--message", "-m") { Description = "Message to send.", HelpName = "message" };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "Send the whole file as one message.", HelpName = "file" };
        var stdin = new Option<bool>("--stdin-file", "-s") { Description = "Read all of stdin and send it as one message." };
        var lines = new Option<bool>("--stdin-line", "-l") { Description = "Send each line of stdin as a message (blank lines are skipped)." };
        var nullMessage = new Option<bool>("--null-message", "-n") { Description = "Send an empty message (with -r: clear the retained message)." };
        var retain = new Option<bool>("--retain", "-r") { Description = "Ask the broker to retain the message." };

        var command = new Command("pub", "Publish a message, as mosquitto_pub does: tern pub -t topic -m message [-q 1] [-r].")
        {
            topic, message, file, stdin, lines, nullMessage, retain,
        };
        shared.AddTo(command);
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var settings = ClientSettings.From(result, shared);
                string topicName = result.GetValue(topic) ?? settings.UrlTopic
                    ?? throw new ClientUsageException("Give a topic with -t (or in the -L URL).");
                if (!MqttTopic.IsValidTopicName(topicName))
                {
                    throw new ClientUsageException($"'{topicName}' is not a valid topic to publish to (no + or #, not empty).");
                }

                var source = Source(result.GetValue(message), result.GetValue(file), result.GetValue(stdin), result.GetValue(lines), result.GetValue(nullMessage));
                var publish = new Publication(topicName, settings.QoS, result.GetValue(retain), settings.IsV5 && settings.Properties.Publish != MqttProperties.Empty ? settings.Properties.Publish : null);
                return await RunAsync(settings, publish, source, ct).ConfigureAwait(false);
            }
            catch (ClientUsageException ex)
            {
                await Console.Error.WriteLineAsync("Error: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private sealed record Publication(string Topic, MqttQoS QoS, bool Retain, MqttProperties? Properties);

    /// <summary>Where the payload(s) come from: exactly one of -m, -f, -s, -l, -n, as in mosquitto_pub.</summary>
    private static Func<IAsyncEnumerable<byte[]>> Source(string? message, FileInfo? file, bool stdin, bool lines, bool nullMessage)
    {
        int given = (message is null ? 0 : 1) + (file is null ? 0 : 1) + (stdin ? 1 : 0) + (lines ? 1 : 0) + (nullMessage ? 1 : 0);
        if (given != 1)
        {
            throw new ClientUsageException(given == 0
                ? "Give a message with -m, -f file, -s (stdin), -l (stdin lines) or -n (empty)."
                : "Give only one of -m, -f, -s, -l and -n.");
        }

        if (file is not null)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file.FullName);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ClientUsageException($"-f: cannot read '{file.FullName}': {ex.Message}");
            }

            return () => One(bytes);
        }

        return message is not null ? () => One(Encoding.UTF8.GetBytes(message))
            : nullMessage ? () => One([])
            : stdin ? () => ReadAllStdinAsync()
            : () => ReadStdinLinesAsync();
    }

    private static async Task<int> RunAsync(ClientSettings settings, Publication p, Func<IAsyncEnumerable<byte[]>> source, CancellationToken ct)
    {
        ClientConnection connection;
        try
        {
            connection = await ClientConnection.ConnectAsync(settings, null, ct).ConfigureAwait(false);
        }
        catch (ClientConnectException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }

        await using (connection.ConfigureAwait(false))
        {
            var pending = new Queue<Task<PublishResult>>();
            var sent = new Sent(p.QoS);
            try
            {
                await foreach (var payload in source().WithCancellation(ct).ConfigureAwait(false))
                {
                    pending.Enqueue(connection.Client.PublishAsync(p.Topic, payload, p.QoS, p.Retain, p.Properties, ct));
                    sent.Largest = Math.Max(sent.Largest, payload.Length);
                    if (pending.Count >= Window)
                    {
                        await CompleteAsync(pending.Dequeue(), connection, settings, sent).ConfigureAwait(false);
                    }
                }

                while (pending.Count > 0)
                {
                    await CompleteAsync(pending.Dequeue(), connection, settings, sent).ConfigureAwait(false);
                }
            }
            catch (ClientConnectException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 130;
            }
        }

        return 0;
    }

    /// <summary>What went out so far, for the line that explains a connection the broker closed.</summary>
    private sealed class Sent(MqttQoS qos)
    {
        public MqttQoS QoS { get; } = qos;

        public int Largest { get; set; }
    }

    /// <summary>Waits for one message's acknowledgement, or for the connection to drop first.</summary>
    private static async Task CompleteAsync(Task<PublishResult> publish, ClientConnection connection, ClientSettings settings, Sent sent)
    {
        var first = await Task.WhenAny(publish, connection.Lost).ConfigureAwait(false);
        if (first != publish)
        {
            throw new ClientConnectException(LostBeforeAck(await connection.Lost.ConfigureAwait(false), settings, sent));
        }

        PublishResult result;
        try
        {
            result = await publish.ConfigureAwait(false);
        }
        catch (MqttClientException ex) when (ex.ReasonCode is not null)
        {
            // Not sent: the broker's MQTT 5 CONNACK said it would not take it (QoS, retain or size).
            throw new ClientConnectException("Error: " + ex.Message);
        }
        catch (MqttClientException ex)
        {
            throw new ClientConnectException($"Publish to {settings.Endpoint} failed: {ex.Message}");
        }

        if (!result.IsSuccess)
        {
            throw new ClientConnectException(
                $"Publish refused: {ClientConnection.Describe(result.ReasonCode)} (0x{(byte)result.ReasonCode:X2}){(result.ReasonString is { } s ? ": " + s : "")}");
        }

        if (settings.Debug && result.MessageId != 0)
        {
            await Console.Error.WriteLineAsync($"Acknowledged (mid: {result.MessageId})").ConfigureAwait(false);
        }
    }

    /// <summary>One line for a connection that ended while a message waited for its acknowledgement (or, QoS 0, to be written).</summary>
    private static string LostBeforeAck(DisconnectedEventArgs e, ClientSettings settings, Sent sent)
    {
        if (e.ReasonCode is { } code)
        {
            return "Error: the broker disconnected before acknowledging the message: " + ClientConnection.DescribeDisconnect(code, e);
        }

        if (ClosedByBroker(e.Exception))
        {
            // MQTT 3.1.1 has no way to refuse a publish but closing the connection.
            string size = $"messages of {sent.Largest} {(sent.Largest == 1 ? "byte" : "bytes")}";
            string hint = sent.QoS == MqttQoS.AtMostOnce ? size : $"QoS {(int)sent.QoS} or {size}";
            return $"Error: the broker closed the connection after the publish (it may not accept {hint})";
        }

        string before = sent.QoS == MqttQoS.AtMostOnce ? "before the message was sent" : "before the broker acknowledged the message";
        return $"Error: connection to {settings.Endpoint} lost {before}: {ClientConnection.Why(e)}";
    }

    /// <summary>End of stream, or a reset or broken pipe: the broker closed its side.</summary>
    private static bool ClosedByBroker(Exception? failure) => failure is EndOfStreamException
        || failure?.GetBaseException() is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted };

    private static async IAsyncEnumerable<byte[]> One(byte[] payload)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        yield return payload;
    }

    private static async IAsyncEnumerable<byte[]> ReadAllStdinAsync()
    {
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        await stdin.CopyToAsync(buffer).ConfigureAwait(false);
        yield return buffer.ToArray();
    }

    private static async IAsyncEnumerable<byte[]> ReadStdinLinesAsync()
    {
        using var reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                yield return Encoding.UTF8.GetBytes(line);
            }
        }
    }
}
