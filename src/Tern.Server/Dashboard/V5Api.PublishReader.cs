using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

/// <summary>
/// Why a request was refused: the HTTP status, one sentence naming the field, the field (null when
/// the whole body is refused: not JSON, too large), and the MQTT reason when there is one.
/// </summary>
internal readonly record struct ApiFailure(int Status, string Message, string? Field = null, ReasonCode? ReasonCode = null)
{
    /// <summary>A 400 for a reader's <see cref="FieldError"/>.</summary>
    public static ApiFailure BadRequest(FieldError error, ReasonCode? reasonCode = null)
        => new(StatusCodes.Status400BadRequest, error.Message, error.Field, reasonCode);
}

/// <summary>A refused input: the field (or query parameter) and the sentence that names it and says what it must be.</summary>
internal readonly record struct FieldError(string Field, string Message);

/// <summary>A publish request, read and checked.</summary>
internal readonly record struct PublishMessage(string Topic, byte[] Payload, MqttQoS QoS, bool Retain, MqttProperties? Properties);

// The publish body reader of /publish and /publish/bulk: the same checks as a client's PUBLISH, in the same words.
internal sealed partial class V5Api
{
    /// <summary>
    /// <c>POST /api/v5/publish</c>, EMQX's fields; <c>clientid</c> (deprecated by EMQX, which ignores
    /// it) is accepted and ignored too.
    /// </summary>
    private static readonly string[] PublishFields = ["topic", "payload", "payload_encoding", "qos", "retain", "properties", "clientid"];

    private static readonly string[] PropertyNames =
        ["payload_format_indicator", "message_expiry_interval", "response_topic", "correlation_data", "user_properties", "content_type"];

    /// <summary>
    /// Reads a JSON request body of at most 4 × <c>Broker:MaxPacketSize</c> (room for a base64
    /// payload of the largest packet, between 1 and 64 MiB); null with the failure otherwise.
    /// </summary>
    internal static async Task<(JsonDocument? Document, ApiFailure Failure)> ReadJsonBodyAsync(HttpContext context, BrokerOptions options)
    {
        var request = context.Request;

        // JSON only: a cross-site form cannot send it without a preflight this API never answers.
        if (!request.HasJsonContentType())
        {
            return (null, new(StatusCodes.Status415UnsupportedMediaType, "Send the message as a JSON object with Content-Type: application/json."));
        }

        var bodyLimit = Math.Clamp((long)options.MaxPacketSize * 4, 1L << 20, 64L << 20);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = bodyLimit;
        }

        try
        {
            return (await JsonDocument.ParseAsync(request.Body, default, context.RequestAborted).ConfigureAwait(false), default);
        }
        catch (JsonException ex)
        {
            return (null, new(StatusCodes.Status400BadRequest, $"The request body is not valid JSON: {ex.Message}", "body"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {bodyLimit} bytes."));
        }
    }

    /// <summary>Reads one message of a publish body and checks it as the broker checks a client's PUBLISH.</summary>
    internal static bool TryReadPublish(JsonElement root, BrokerOptions options, out PublishMessage message, out ApiFailure failure)
    {
        message = default;
        failure = default;
        if (!TryReadFields(root, out message, out var error, out var reason))
        {
            failure = ApiFailure.BadRequest(error, reason);
            return false;
        }

        // The same limits as a client's PUBLISH, in the same words.
        if (PublishRules.Check(options, message.Topic, message.QoS, message.Retain, message.Payload.Length) is { } refusal)
        {
            var field = refusal.Code switch
            {
                ReasonCode.QoSNotSupported => "qos",
                ReasonCode.RetainNotSupported => "retain",
                ReasonCode.PacketTooLarge => "payload",
                _ => "topic",
            };
            failure = new(StatusCodes.Status400BadRequest, $"{field}: {refusal.Message}", field, refusal.Code);
            return false;
        }

        return true;
    }

    private static bool TryReadFields(JsonElement root, out PublishMessage message, out FieldError error, out ReasonCode? reason)
    {
        message = default;
        reason = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = new("body", "The request body must be a JSON object such as {\"topic\": \"a/b\", \"payload\": \"hello\", \"qos\": 0, \"retain\": false}.");
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(PublishFields, property.Name) < 0)
            {
                error = new(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", PublishFields)}.");
                return false;
            }
        }

        if (!root.TryGetProperty("topic", out var topicElement) || topicElement.ValueKind != JsonValueKind.String || topicElement.GetString() is not { Length: > 0 } topic)
        {
            error = new("topic", "topic is required: a non-empty string such as \"sensors/temp\".");
            return false;
        }

        if (MqttTopic.HasWildcards(topic))
        {
            error = new("topic", $"topic '{topic}' has a wildcard (+ or #): publish needs a topic name, not a filter.");
            reason = ReasonCode.TopicNameInvalid;
            return false;
        }

        if (!MqttTopic.IsValidTopicName(topic))
        {
            error = new("topic", "topic is not a valid topic name: it must be well-formed UTF-8 without U+0000 and at most 65535 bytes.");
            reason = ReasonCode.TopicNameInvalid;
            return false;
        }

        var qos = 0;
        if (root.TryGetProperty("qos", out var qosElement) && qosElement.ValueKind != JsonValueKind.Null
            && (qosElement.ValueKind != JsonValueKind.Number || !qosElement.TryGetInt32(out qos) || qos is < 0 or > 2))
        {
            error = new("qos", $"qos must be 0, 1 or 2, not {qosElement.GetRawText()}.");
            return false;
        }

        var retain = false;
        if (root.TryGetProperty("retain", out var retainElement) && retainElement.ValueKind != JsonValueKind.Null)
        {
            if (retainElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = new("retain", $"retain must be true or false, not {retainElement.GetRawText()}.");
                return false;
            }

            retain = retainElement.GetBoolean();
        }

        if (!TryReadPayload(root, out var payload, out error))
        {
            return false;
        }

        if (!TryReadProperties(root, out var properties, out error))
        {
            return false;
        }

        message = new PublishMessage(topic, payload, (MqttQoS)qos, retain, properties);
        return true;
    }

    private static bool TryReadPayload(JsonElement root, out byte[] payload, out FieldError error)
    {
        payload = [];
        error = default;
        var encoding = "plain";
        const string EncodingField = "payload_encoding";
        if (root.TryGetProperty(EncodingField, out var encodingElement) && encodingElement.ValueKind != JsonValueKind.Null)
        {
            encoding = encodingElement.ValueKind == JsonValueKind.String ? encodingElement.GetString()! : "";
            if (encoding is not ("plain" or "base64"))
            {
                error = new(EncodingField, $"{EncodingField} must be \"plain\" (the payload is text, sent as UTF-8) or \"base64\", not {encodingElement.GetRawText()}.");
                return false;
            }
        }

        if (!root.TryGetProperty("payload", out var payloadElement) || payloadElement.ValueKind == JsonValueKind.Null)
        {
            error = new("payload", "payload is required: a string (\"\" for an empty payload).");
            return false;
        }

        if (payloadElement.ValueKind != JsonValueKind.String)
        {
            error = new("payload", $"payload must be a string (text, or base64 with \"{EncodingField}\": \"base64\").");
            return false;
        }

        if (encoding == "base64")
        {
            if (!payloadElement.TryGetBytesFromBase64(out var bytes))
            {
                error = new("payload", "payload is not valid base64.");
                return false;
            }

            payload = bytes;
            return true;
        }

        payload = Encoding.UTF8.GetBytes(payloadElement.GetString()!);
        return true;
    }

    /// <summary>EMQX's <c>properties</c>: the MQTT 5 PUBLISH properties a subscriber gets.</summary>
    private static bool TryReadProperties(JsonElement root, out MqttProperties? properties, out FieldError error)
    {
        properties = null;
        error = default;
        if (!root.TryGetProperty("properties", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            error = new("properties", "properties must be an object such as {\"message_expiry_interval\": 60, \"user_properties\": {\"k\": \"v\"}}.");
            return false;
        }

        var result = new MqttProperties();
        foreach (var property in element.EnumerateObject())
        {
            var name = "properties." + property.Name;
            var value = property.Value;
            switch (property.Name)
            {
                case "payload_format_indicator":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetByte(out var indicator) || indicator > 1)
                    {
                        error = new(name, $"{name} must be 0 (unspecified bytes) or 1 (UTF-8 text), not {value.GetRawText()}.");
                        return false;
                    }

                    result = result with { PayloadFormatIndicator = indicator };
                    break;
                case "message_expiry_interval":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetUInt32(out var expiry))
                    {
                        error = new(name, $"{name} must be a whole number of seconds from 0 to {uint.MaxValue}, not {value.GetRawText()}.");
                        return false;
                    }

                    result = result with { MessageExpiryInterval = expiry };
                    break;
                case "response_topic":
                    if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } responseTopic
                        || MqttTopic.HasWildcards(responseTopic) || !MqttTopic.IsValidTopicName(responseTopic))
                    {
                        error = new(name, $"{name} must be a topic name without wildcards, not {value.GetRawText()}.");
                        return false;
                    }

                    result = result with { ResponseTopic = responseTopic };
                    break;
                case "correlation_data":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        error = new(name, $"{name} must be a string (sent as its UTF-8 bytes), not {value.GetRawText()}.");
                        return false;
                    }

                    result = result with { CorrelationData = Encoding.UTF8.GetBytes(value.GetString()!) };
                    break;
                case "content_type":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        error = new(name, $"{name} must be a string such as \"text/plain\", not {value.GetRawText()}.");
                        return false;
                    }

                    result = result with { ContentType = value.GetString() };
                    break;
                case "user_properties":
                    if (!TryReadUserProperties(value, name, out var userProperties, out error))
                    {
                        return false;
                    }

                    result = result with { UserProperties = userProperties };
                    break;
                default:
                    error = new(name, $"Unknown field '{name}'; the properties are {string.Join(", ", PropertyNames)}.");
                    return false;
            }
        }

        properties = result;
        return true;
    }

    private static bool TryReadUserProperties(JsonElement value, string name, out MqttUserProperty[] userProperties, out FieldError error)
    {
        userProperties = [];
        error = default;
        if (value.ValueKind != JsonValueKind.Object)
        {
            error = new(name, $"{name} must be an object of strings such as {{\"site\": \"north\"}}, not {value.GetRawText()}.");
            return false;
        }

        var list = new List<MqttUserProperty>();
        foreach (var pair in value.EnumerateObject())
        {
            if (pair.Value.ValueKind != JsonValueKind.String)
            {
                error = new($"{name}.{pair.Name}", $"{name}.{pair.Name} must be a string, not {pair.Value.GetRawText()}.");
                return false;
            }

            list.Add(new MqttUserProperty(pair.Name, pair.Value.GetString()!));
        }

        userProperties = [.. list];
        return true;
    }
}
