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

    /// <summary>
    /// Publishes as the server (no client id: no-local does not apply, ACLs are not asked). The
    /// body is read by hand rather than bound, so that every mistake gets a sentence naming the field.
    /// </summary>
    private async Task<IResult> PublishAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure.Status, failure.Message);
        }

        using (document)
        {
            if (!TryReadPublish(document.RootElement, V1Publish, broker.Options, out var message, out failure))
            {
                return Error(failure.Status, failure.Message);
            }

            var matched = broker.Publish(message.Topic, message.Payload, message.QoS, message.Retain, message.Properties);
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

        var messages = SortedRetained(broker, filter);
        var data = Slice(messages, page, limit)
            .Select(static m =>
            {
                var (payload, encoding, truncated) = Preview(m.Payload.Span);
                return new RetainedResponse(m.Topic, (int)m.QoS, m.Payload.Length, payload, encoding, truncated, m.StoredAt);
            })
            .ToArray();
        return Ok(new RetainedPage(data, new PageMeta(page, limit, messages.Length)), Json.RetainedPage);
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

}
