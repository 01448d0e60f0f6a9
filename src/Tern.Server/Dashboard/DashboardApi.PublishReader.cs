using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

/// <summary>Why a request was refused: the HTTP status, one sentence naming the field, and the MQTT reason when there is one.</summary>
internal readonly record struct ApiFailure(int Status, string Message, ReasonCode? ReasonCode = null);

/// <summary>A publish request, read and checked.</summary>
internal readonly record struct PublishMessage(string Topic, byte[] Payload, MqttQoS QoS, bool Retain, MqttProperties? Properties);

/// <summary>
/// The field names of one API's publish body: <c>/api/v1</c> says <c>encoding</c>, EMQX's
/// <c>/api/v5</c> says <c>payload_encoding</c> and adds <c>properties</c>.
/// </summary>
/// <param name="Fields">Every field accepted; any other is an error.</param>
/// <param name="EncodingField">The name of the payload's encoding (<c>plain</c> or <c>base64</c>).</param>
/// <param name="PayloadRequired">Whether <c>payload</c> must be given.</param>
/// <param name="HasProperties">Whether MQTT 5 <c>properties</c> are read.</param>
internal sealed record PublishDialect(string[] Fields, string EncodingField, bool PayloadRequired, bool HasProperties);

// The publish body reader that /api/v1 and /api/v5 share: the same checks in the same words.
internal sealed partial class DashboardApi
{
    /// <summary><c>POST /api/v1/publish</c>.</summary>
    internal static readonly PublishDialect V1Publish = new(["topic", "payload", "encoding", "qos", "retain"], "encoding", PayloadRequired: false, HasProperties: false);

    /// <summary>
    /// <c>POST /api/v5/publish</c>, EMQX's fields; <c>clientid</c> (deprecated by EMQX, which ignores
    /// it) is accepted and ignored too.
    /// </summary>
    internal static readonly PublishDialect V5Publish = new(
        ["topic", "payload", "payload_encoding", "qos", "retain", "properties", "clientid"], "payload_encoding", PayloadRequired: true, HasProperties: true);

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
            return (null, new(StatusCodes.Status400BadRequest, $"The request body is not valid JSON: {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {bodyLimit} bytes."));
        }
    }

    /// <summary>Reads one message of a publish body and checks it as the broker checks a client's PUBLISH.</summary>
    internal static bool TryReadPublish(JsonElement root, PublishDialect dialect, BrokerOptions options, out PublishMessage message, out ApiFailure failure)
    {
        message = default;
        failure = default;
        if (!TryReadFields(root, dialect, out message, out var error, out var reason))
        {
            failure = new(StatusCodes.Status400BadRequest, error, reason);
            return false;
        }

        // The same limits as a client's PUBLISH, in the same words.
        if (PublishRules.Check(options, message.Topic, message.QoS, message.Retain, message.Payload.Length) is { } refusal)
        {
            failure = new(StatusCodes.Status400BadRequest, refusal.Message, refusal.Code);
            return false;
        }

        return true;
    }

    private static bool TryReadFields(JsonElement root, PublishDialect dialect, out PublishMessage message, out string error, out ReasonCode? reason)
    {
        message = default;
        reason = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "The request body must be a JSON object such as {\"topic\": \"a/b\", \"payload\": \"hello\", \"qos\": 0, \"retain\": false}.";
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(dialect.Fields, property.Name) < 0)
            {
                error = $"Unknown field '{property.Name}'; the fields are {string.Join(", ", dialect.Fields)}.";
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
            reason = ReasonCode.TopicNameInvalid;
            return false;
        }

        if (!MqttTopic.IsValidTopicName(topic))
        {
            error = "topic is not a valid topic name: it must be well-formed UTF-8 without U+0000 and at most 65535 bytes.";
            reason = ReasonCode.TopicNameInvalid;
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

        if (!TryReadPayload(root, dialect, out var payload, out error))
        {
            return false;
        }

        MqttProperties? properties = null;
        if (dialect.HasProperties && !TryReadProperties(root, out properties, out error))
        {
            return false;
        }

        message = new PublishMessage(topic, payload, (MqttQoS)qos, retain, properties);
        return true;
    }

    private static bool TryReadPayload(JsonElement root, PublishDialect dialect, out byte[] payload, out string error)
    {
        payload = [];
        error = "";
        var encoding = "plain";
        var encodingField = dialect.EncodingField;
        if (root.TryGetProperty(encodingField, out var encodingElement) && encodingElement.ValueKind != JsonValueKind.Null)
        {
            encoding = encodingElement.ValueKind == JsonValueKind.String ? encodingElement.GetString()! : "";
            if (encoding is not ("plain" or "base64"))
            {
                error = $"{encodingField} must be \"plain\" (the payload is text, sent as UTF-8) or \"base64\", not {encodingElement.GetRawText()}.";
                return false;
            }
        }

        if (!root.TryGetProperty("payload", out var payloadElement) || payloadElement.ValueKind == JsonValueKind.Null)
        {
            if (dialect.PayloadRequired)
            {
                error = "payload is required: a string (\"\" for an empty payload).";
                return false;
            }

            return true;
        }

        if (payloadElement.ValueKind != JsonValueKind.String)
        {
            error = $"payload must be a string (text, or base64 with \"{encodingField}\": \"base64\").";
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

    /// <summary>EMQX's <c>properties</c>: the MQTT 5 PUBLISH properties a subscriber gets.</summary>
    private static bool TryReadProperties(JsonElement root, out MqttProperties? properties, out string error)
    {
        properties = null;
        error = "";
        if (!root.TryGetProperty("properties", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            error = "properties must be an object such as {\"message_expiry_interval\": 60, \"user_properties\": {\"k\": \"v\"}}.";
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
                        error = $"{name} must be 0 (unspecified bytes) or 1 (UTF-8 text), not {value.GetRawText()}.";
                        return false;
                    }

                    result = result with { PayloadFormatIndicator = indicator };
                    break;
                case "message_expiry_interval":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetUInt32(out var expiry))
                    {
                        error = $"{name} must be a whole number of seconds from 0 to {uint.MaxValue}, not {value.GetRawText()}.";
                        return false;
                    }

                    result = result with { MessageExpiryInterval = expiry };
                    break;
                case "response_topic":
                    if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } responseTopic
                        || MqttTopic.HasWildcards(responseTopic) || !MqttTopic.IsValidTopicName(responseTopic))
                    {
                        error = $"{name} must be a topic name without wildcards, not {value.GetRawText()}.";
                        return false;
                    }

                    result = result with { ResponseTopic = responseTopic };
                    break;
                case "correlation_data":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        error = $"{name} must be a string (sent as its UTF-8 bytes), not {value.GetRawText()}.";
                        return false;
                    }

                    result = result with { CorrelationData = Encoding.UTF8.GetBytes(value.GetString()!) };
                    break;
                case "content_type":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        error = $"{name} must be a string such as \"text/plain\", not {value.GetRawText()}.";
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
                    error = $"Unknown field '{name}'; the properties are {string.Join(", ", PropertyNames)}.";
                    return false;
            }
        }

        properties = result;
        return true;
    }

    private static bool TryReadUserProperties(JsonElement value, string name, out MqttUserProperty[] userProperties, out string error)
    {
        userProperties = [];
        error = "";
        if (value.ValueKind != JsonValueKind.Object)
        {
            error = $"{name} must be an object of strings such as {{\"site\": \"north\"}}, not {value.GetRawText()}.";
            return false;
        }

        var list = new List<MqttUserProperty>();
        foreach (var pair in value.EnumerateObject())
        {
            if (pair.Value.ValueKind != JsonValueKind.String)
            {
                error = $"{name}.{pair.Name} must be a string, not {pair.Value.GetRawText()}.";
                return false;
            }

            list.Add(new MqttUserProperty(pair.Name, pair.Value.GetString()!));
        }

        userProperties = [.. list];
        return true;
    }
}
