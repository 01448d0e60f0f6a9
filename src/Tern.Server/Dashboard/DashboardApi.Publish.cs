using Tern.Broker;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

internal sealed partial class DashboardApi
{
    private const int RetainedPreviewBytes = 1024;

    private static readonly string[] PublishFields = ["topic", "payload", "encoding", "qos", "retain"];

    /// <summary>
    /// Publishes as the server (no client id: no-local does not apply, ACLs are not asked). The
    /// body is read by hand rather than bound, so that every mistake gets a sentence naming the field.
    /// </summary>
    private async Task<IResult> PublishAsync(HttpContext context)
    {
        var request = context.Request;

        // JSON only: a cross-site form cannot send it without a preflight this API never answers.
        if (!request.HasJsonContentType())
        {
            return Error(StatusCodes.Status415UnsupportedMediaType, "Send the message as a JSON object with Content-Type: application/json.");
        }

        var options = broker.Options;

        // Room for a base64 payload of the largest packet, within reason.
        var bodyLimit = Math.Clamp((long)options.MaxPacketSize * 4, 1L << 20, 64L << 20);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = bodyLimit;
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            return Error(StatusCodes.Status400BadRequest, $"The request body is not valid JSON: {ex.Message}");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {bodyLimit} bytes.");
        }

        using (document)
        {
            if (!TryReadPublish(document.RootElement, out var message, out var error))
            {
                return Error(StatusCodes.Status400BadRequest, error);
            }

            // The same limits as a client's PUBLISH, in the same words.
            if (PublishRules.Check(options, message.Topic, (MqttQoS)message.QoS, message.Retain, message.Payload.Length) is { } refusal)
            {
                return Error(StatusCodes.Status400BadRequest, refusal.Message);
            }

            var matched = broker.Publish(message.Topic, message.Payload, (MqttQoS)message.QoS, message.Retain);
            return Ok(new PublishResponse(message.Topic, matched), Json.PublishResponse);
        }
    }

    private IResult Retained(HttpContext context)
    {
        if (!TryReadPage(context.Request, out var page, out var limit, out var error))
        {
            return error;
        }

        var filter = context.Request.Query["topic"].ToString();
        if (filter.Length == 0)
        {
            filter = "#";
        }

        if (!MqttTopic.IsValidTopicFilter(filter) || filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            return Error(StatusCodes.Status400BadRequest, $"topic must be a topic name or filter such as a/b or sensors/#, not '{filter}'.");
        }

        var messages = broker.GetRetainedMessages(filter).ToArray();
        Array.Sort(messages, static (a, b) => string.CompareOrdinal(a.Topic, b.Topic));
        var data = Slice(messages, page, limit)
            .Select(static m =>
            {
                var (payload, encoding, truncated) = Preview(m.Payload.Span);
                return new RetainedResponse(m.Topic, (int)m.QoS, m.Payload.Length, payload, encoding, truncated, m.StoredAt);
            })
            .ToArray();
        return Ok(new RetainedPage(data, new PageMeta(page, limit, messages.Length)), Json.RetainedPage);
    }

    private static bool TryReadPublish(JsonElement root, out PublishMessage message, out string error)
    {
        message = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "The request body must be a JSON object such as {\"topic\": \"a/b\", \"payload\": \"hello\", \"qos\": 0, \"retain\": false}.";
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(PublishFields, property.Name) < 0)
            {
                error = $"Unknown field '{property.Name}'; the fields are {string.Join(", ", PublishFields)}.";
                return false;
            }
        }

        if (!root.TryGetProperty("topic", out var topicElement) || topicElement.ValueKind != JsonValueKind.String || topicElement.GetString() is not { Length: > 0 } topic)
        {
            error = "topic is required: a non-empty string such as \"sensors/temp\".";
            return false;
        }

        if (MqttTopic.HasWildcards(topic))
        {
            error = $"topic '{topic}' has a wildcard (+ or #): publish needs a topic name, not a filter.";
            return false;
        }

        if (!MqttTopic.IsValidTopicName(topic))
        {
            error = "topic is not a valid topic name: it must be well-formed UTF-8 without U+0000 and at most 65535 bytes.";
            return false;
        }

        var qos = 0;
        if (root.TryGetProperty("qos", out var qosElement) && qosElement.ValueKind != JsonValueKind.Null
            && (qosElement.ValueKind != JsonValueKind.Number || !qosElement.TryGetInt32(out qos) || qos is < 0 or > 2))
        {
            error = $"qos must be 0, 1 or 2, not {qosElement.GetRawText()}.";
            return false;
        }

        var retain = false;
        if (root.TryGetProperty("retain", out var retainElement) && retainElement.ValueKind != JsonValueKind.Null)
        {
            if (retainElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = $"retain must be true or false, not {retainElement.GetRawText()}.";
                return false;
            }

            retain = retainElement.GetBoolean();
        }

        if (!TryReadPayload(root, out var payload, out error))
        {
            return false;
        }

        message = new PublishMessage(topic, payload, qos, retain);
        return true;
    }

    private static bool TryReadPayload(JsonElement root, out byte[] payload, out string error)
    {
        payload = [];
        error = "";
        var encoding = "plain";
        if (root.TryGetProperty("encoding", out var encodingElement) && encodingElement.ValueKind != JsonValueKind.Null)
        {
            encoding = encodingElement.ValueKind == JsonValueKind.String ? encodingElement.GetString()! : "";
            if (encoding is not ("plain" or "base64"))
            {
                error = $"encoding must be \"plain\" (the payload is text, sent as UTF-8) or \"base64\", not {encodingElement.GetRawText()}.";
                return false;
            }
        }

        if (!root.TryGetProperty("payload", out var payloadElement) || payloadElement.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (payloadElement.ValueKind != JsonValueKind.String)
        {
            error = "payload must be a string (text, or base64 with \"encoding\": \"base64\").";
            return false;
        }

        if (encoding == "base64")
        {
            if (!payloadElement.TryGetBytesFromBase64(out var bytes))
            {
                error = "payload is not valid base64.";
                return false;
            }

            payload = bytes;
            return true;
        }

        payload = Encoding.UTF8.GetBytes(payloadElement.GetString()!);
        return true;
    }

    /// <summary>The start of a payload for a list: text when it is UTF-8 (cut on a character boundary), else base64.</summary>
    private static (string Payload, string Encoding, bool Truncated) Preview(ReadOnlySpan<byte> payload)
    {
        var truncated = payload.Length > RetainedPreviewBytes;
        var end = truncated ? RetainedPreviewBytes : payload.Length;

        // Back off from a continuation byte to the start of its character.
        while (truncated && end > 0 && (payload[end] & 0xC0) == 0x80)
        {
            end--;
        }

        var head = payload[..end];
        return Utf8.IsValid(head)
            ? (Encoding.UTF8.GetString(head), "plain", truncated)
            : (Convert.ToBase64String(payload[..Math.Min(payload.Length, RetainedPreviewBytes)]), "base64", truncated);
    }

    private readonly record struct PublishMessage(string Topic, byte[] Payload, int QoS, bool Retain);
}
