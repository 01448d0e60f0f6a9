using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    private const int RetainedPreviewBytes = 1024;

    /// <summary>
    /// <c>POST /api/v5/publish</c>: EMQX's body (<c>topic</c>, <c>payload</c>, <c>payload_encoding</c>,
    /// <c>qos</c>, <c>retain</c>, <c>properties</c>), checked as a client's PUBLISH. 200 with
    /// <c>{"id": ...}</c> when a subscription matched, 202 with <c>reason_code</c> 16 when none did.
    /// </summary>
    private async Task<IResult> PublishAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (!TryReadPublish(document.RootElement, broker.Options, out var message, out failure))
            {
                return Error(failure);
            }

            var result = Publish(message);
            return TypedResults.Json(result, Json.V5PublishResult, statusCode: result.Id is null ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
        }
    }

    /// <summary>
    /// <c>POST /api/v5/publish/bulk</c>: an array of the same messages. Every one is checked before
    /// any is published (one bad message: 400 and nothing sent); then 200 when each matched a
    /// subscription, else 202, with one result per message in order.
    /// </summary>
    private async Task<IResult> PublishBulkAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                return BadRequest("body", "The request body must be a non-empty JSON array of messages such as [{\"topic\": \"a/b\", \"payload\": \"hello\"}].");
            }

            var messages = new PublishMessage[root.GetArrayLength()];
            var index = 0;
            foreach (var element in root.EnumerateArray())
            {
                if (!TryReadPublish(element, broker.Options, out messages[index], out failure))
                {
                    return Error(failure with { Message = $"[{index}].{failure.Message}", Field = $"[{index}].{failure.Field}" });
                }

                index++;
            }

            var results = messages.Select(Publish).ToArray();
            var status = results.All(static r => r.Id is not null) ? StatusCodes.Status200OK : StatusCodes.Status202Accepted;
            return TypedResults.Json(results, Json.V5PublishResultArray, statusCode: status);
        }
    }

    private V5PublishResult Publish(PublishMessage message)
    {
        var matched = broker.Publish(message.Topic, message.Payload, message.QoS, message.Retain, message.Properties);

        // EMQX's id is its message's GUID, in the same 32 upper-case hex digits; Tern's messages
        // have none, so the id names this publish only.
        return matched
            ? new V5PublishResult(Guid.NewGuid().ToString("N").ToUpperInvariant(), null, null)
            : new V5PublishResult(null, (int)ReasonCode.NoMatchingSubscribers, "no_matching_subscribers");
    }

    /// <summary>
    /// <c>GET /api/v5/mqtt/retainer/messages</c>: retained messages whose topic matches <c>?topic=</c>
    /// (a filter; default <c>#</c>, which leaves out <c>$SYS</c>), without their payloads.
    /// </summary>
    private IResult RetainedMessages(HttpContext context)
    {
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        var filter = context.Request.Query["topic"].ToString();
        if (filter.Length == 0)
        {
            filter = "#";
        }

        if (!MqttTopic.IsValidTopicFilter(filter) || filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            return BadRequest("topic", $"topic must be a topic name or filter such as a/b or sensors/#, not '{filter}'.");
        }

        var messages = SortedRetained(broker, filter);
        var data = Slice(messages, page, limit).Select(static m => ToV5(m, withPayload: false)).ToArray();
        return Ok(new V5RetainedPage(data, Meta(page, limit, messages.Length)), Json.V5RetainedPage);
    }

    /// <summary><c>GET /api/v5/mqtt/retainer/message/{topic}</c>: one message with its payload in base64, as EMQX.</summary>
    private IResult RetainedMessage(HttpContext context)
    {
        if (!TryReadRetainedTopic(context, out var topic, out var error))
        {
            return error;
        }

        var found = broker.GetRetainedMessages(topic);
        return found.Count > 0 ? Ok(ToV5(found[0], withPayload: true), Json.V5Retained) : NoRetainedMessage(topic);
    }

    /// <summary><c>DELETE /api/v5/mqtt/retainer/message/{topic}</c>: 204; no subscriber is sent anything.</summary>
    private IResult DeleteRetainedMessage(HttpContext context)
    {
        if (!TryReadRetainedTopic(context, out var topic, out var error))
        {
            return error;
        }

        if (!broker.DeleteRetainedMessage(topic))
        {
            return NoRetainedMessage(topic);
        }

        V5Log.RetainedDeleted(logger, topic, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private static bool TryReadRetainedTopic(HttpContext context, out string topic, out IResult error)
    {
        error = null!;
        topic = RawTail(context, Prefix + "/mqtt/retainer/message/", "topic");
        if (topic.Length == 0 || MqttTopic.HasWildcards(topic) || !MqttTopic.IsValidTopicName(topic))
        {
            error = BadRequest("topic", $"topic must be a topic name, percent-encoded (sensors%2Ftemp for sensors/temp), without + or #, not '{topic}'.");
            return false;
        }

        return true;
    }

    private static IResult NoRetainedMessage(string topic)
        => Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"Viewed message doesn't exist: no message is retained on topic '{topic}'.");

    private static V5Retained ToV5(RetainedSnapshot m, bool withPayload) => new(
        m.Topic,
        (int)m.QoS,
        Rfc3339(m.StoredAt),
        m.PublisherClientId,
        FromUsername: null,
        withPayload ? Convert.ToBase64String(m.Payload.Span) : null,
        m.Payload.Length,
        withPayload ? null : Preview(m.Payload.Span));

    /// <summary>The start of a payload for a list: text when it is UTF-8 (cut on a character boundary), else base64.</summary>
    private static V5RetainedPreview Preview(ReadOnlySpan<byte> payload)
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
            ? new(Encoding.UTF8.GetString(head), "plain", truncated)
            : new(Convert.ToBase64String(payload[..Math.Min(payload.Length, RetainedPreviewBytes)]), "base64", truncated);
    }
}
