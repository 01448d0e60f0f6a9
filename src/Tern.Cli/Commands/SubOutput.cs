using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// Writes received messages to stdout as raw bytes (so UTF-8 stays UTF-8 whatever the console
/// encoding, and binary payloads pass through), one flush per message so pipes see each at once.
/// </summary>
internal sealed class SubOutput(Stream stdout, bool verbose, bool json)
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly MemoryStream _buffer = new();

    public async Task WriteAsync(MqttMessage message, CancellationToken ct)
    {
        _buffer.SetLength(0);
        if (json)
        {
            WriteJson(_buffer, message);
        }
        else
        {
            if (verbose)
            {
                _buffer.Write(Encoding.UTF8.GetBytes(message.Topic));
                _buffer.WriteByte((byte)' ');
            }

            _buffer.Write(message.Payload.Span);
        }

        _buffer.Write(NewLine);
        await stdout.WriteAsync(_buffer.GetBuffer().AsMemory(0, (int)_buffer.Length), ct).ConfigureAwait(false);
        await stdout.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// One JSON object per line. Property names are the -D identifiers, so what -D sets is what
    /// --json shows. Binary data (invalid UTF-8) is base64 and says so in "encoding".
    /// </summary>
    private static void WriteJson(Stream target, MqttMessage m)
    {
        using var w = new Utf8JsonWriter(target, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("topic", m.Topic);
        WriteData(w, "payload", "encoding", m.Payload.Span);
        w.WriteNumber("qos", (int)m.QoS);
        w.WriteBoolean("retain", m.Retain);
        if (m.Properties is { } p && p != MqttProperties.Empty)
        {
            w.WriteStartObject("properties");
            if (p.PayloadFormatIndicator is { } pfi)
            {
                w.WriteNumber("payload-format-indicator", pfi);
            }

            if (p.MessageExpiryInterval is { } expiry)
            {
                w.WriteNumber("message-expiry-interval", expiry);
            }

            if (p.ContentType is { } contentType)
            {
                w.WriteString("content-type", contentType);
            }

            if (p.ResponseTopic is { } responseTopic)
            {
                w.WriteString("response-topic", responseTopic);
            }

            if (p.CorrelationData is { } correlation)
            {
                WriteData(w, "correlation-data", "correlation-data-encoding", correlation.Span);
            }

            if (p.SubscriptionIdentifiers is { Count: > 0 } ids)
            {
                w.WriteStartArray("subscription-identifier");
                foreach (var id in ids)
                {
                    w.WriteNumberValue(id);
                }

                w.WriteEndArray();
            }

            if (p.UserProperties is { Count: > 0 } users)
            {
                // Pairs, not an object: MQTT allows the same key more than once, in order.
                w.WriteStartArray("user-property");
                foreach (var (name, value) in users)
                {
                    w.WriteStartArray();
                    w.WriteStringValue(name);
                    w.WriteStringValue(value);
                    w.WriteEndArray();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteData(Utf8JsonWriter w, string name, string encodingName, ReadOnlySpan<byte> data)
    {
        bool text = Utf8.IsValid(data);
        if (text)
        {
            w.WriteString(name, data);
        }
        else
        {
            w.WriteBase64String(name, data);
        }

        w.WriteString(encodingName, text ? "utf-8" : "base64");
    }
}
