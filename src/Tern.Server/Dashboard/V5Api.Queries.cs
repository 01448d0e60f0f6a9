using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tern.Broker;

namespace Tern.Server.Dashboard;

// What the endpoints share: the sorted snapshots, paging, path decoding and the kick.
internal sealed partial class V5Api
{
    /// <summary>Every client and kept session, sorted by client id so that pages follow each other.</summary>
    internal static ClientSnapshot[] SortedClients(MqttBroker broker)
    {
        var clients = broker.GetClients().ToArray();
        Array.Sort(clients, static (a, b) => string.CompareOrdinal(a.ClientId, b.ClientId));
        return clients;
    }

    /// <summary>Subscriptions of every session (or of one client id), sorted by client id then filter.</summary>
    internal static SubscriptionSnapshot[] SortedSubscriptions(MqttBroker broker, string? clientId)
    {
        var subscriptions = broker.GetSubscriptions(clientId).ToArray();
        Array.Sort(subscriptions, static (a, b) =>
        {
            var byClient = string.CompareOrdinal(a.ClientId, b.ClientId);
            return byClient != 0 ? byClient : string.CompareOrdinal(a.Filter, b.Filter);
        });
        return subscriptions;
    }

    /// <summary>Retained messages matching a valid <paramref name="filter"/>, sorted by topic.</summary>
    internal static RetainedSnapshot[] SortedRetained(MqttBroker broker, string filter)
    {
        var messages = broker.GetRetainedMessages(filter).ToArray();
        Array.Sort(messages, static (a, b) => string.CompareOrdinal(a.Topic, b.Topic));
        return messages;
    }

    /// <summary>
    /// Kicks a connected client (its persistent session stays), or discards the session of one
    /// that is not connected, as EMQX's <c>DELETE /clients/{id}</c> does.
    /// </summary>
    /// <returns>false when there is neither.</returns>
    internal static bool KickOrDiscard(MqttBroker broker, ILogger logger, HttpContext context, string clientId)
    {
        var remote = context.Connection.RemoteIpAddress?.ToString();
        if (broker.DisconnectClient(clientId, "disconnected by an administrator (REST API)"))
        {
            DashboardLog.Kicked(logger, clientId, remote);
            return true;
        }

        if (broker.DiscardSession(clientId))
        {
            DashboardLog.SessionDiscarded(logger, clientId, remote);
            return true;
        }

        return false;
    }

    /// <summary>
    /// The rest of the path after <paramref name="route"/> (a client id, a topic), percent-decoded
    /// once from the raw request target: the server leaves <c>%2F</c> encoded in the path, and a
    /// client id or a topic may hold '/'.
    /// </summary>
    internal static string RawTail(HttpContext context, string route, string routeValue)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }

        if (raw.StartsWith(route, StringComparison.Ordinal))
        {
            return Uri.UnescapeDataString(raw[route.Length..]);
        }

        // An absolute-form or dot-segment target: the route value, as the server decoded it.
        return context.Request.RouteValues[routeValue] as string ?? "";
    }

    /// <summary>Reads <c>?page=</c> and <c>?limit=</c>; returns the bad one, or null.</summary>
    internal static FieldError? ReadPage(HttpRequest request, int defaultLimit, int maxLimit, out int page, out int limit)
    {
        page = 1;
        limit = defaultLimit;
        return ReadInt(request, "page", 1, int.MaxValue, ref page) ?? ReadInt(request, "limit", 1, maxLimit, ref limit);
    }

    /// <summary>Reads a whole number from the query; returns the bad parameter, or null.</summary>
    internal static FieldError? ReadInt(HttpRequest request, string name, int min, int max, ref int value)
    {
        var text = request.Query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < min || parsed > max)
        {
            return new(name, $"{name} must be a whole number from {min} to {max}, not '{text}'.");
        }

        value = parsed;
        return null;
    }

    /// <summary>One page of <paramref name="items"/>.</summary>
    internal static ArraySegment<T> Slice<T>(T[] items, int page, int limit)
    {
        var start = (long)(page - 1) * limit;
        if (start >= items.Length)
        {
            // Not [], which is a default segment over no array: enumerating that throws.
            return ArraySegment<T>.Empty;
        }

        return new ArraySegment<T>(items, (int)start, (int)Math.Min(limit, items.Length - start));
    }
}
