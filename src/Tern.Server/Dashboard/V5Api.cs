using System.Globalization;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

/// <summary>
/// The REST API under <c>/api/v5</c>: EMQX 5's paths and documents (docs/rest-api.md), so that a
/// script written for EMQX runs unchanged; the dashboard and <c>tern ctl</c> use it too. Tern's own
/// figures are extra members of EMQX's documents. Authentication happens before routing.
/// </summary>
internal sealed partial class V5Api(MqttBroker broker, DashboardCredentials credentials, V5Tokens tokens, V5Management management, ILogger logger)
{
    /// <summary>Where EMQX 5 puts its API, and so where scripts written for it look.</summary>
    public const string Prefix = "/api/v5";

    /// <summary>Where EMQX names its node (<c>emqx@127.0.0.1</c>): one node, this machine.</summary>
    public static readonly string NodeName = "tern@" + Environment.MachineName;

    // EMQX's paging: 100 a page unless told, at most 10000.
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;

    private static readonly V5JsonContext Json = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Adds the routes under <see cref="Prefix"/>.</summary>
    public void Map(IEndpointRouteBuilder endpoints)
    {
        // Every operation may fail with problem details (ApiProblem); the OpenAPI document says so.
        var api = endpoints.MapGroup(Prefix)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);

        // Tags group the operations of the OpenAPI document (V5OpenApi) and its reference page.
        api.MapPost("/login", (Func<HttpContext, Task<IResult>>)LoginAsync).WithTags("Login");
        api.MapGet("/clients", Clients).WithTags("Clients");

        // Catch-alls: client ids and topics may contain '/' (sent as %2F, see RawTail).
        api.MapGet("/clients/{**clientid}", ClientOrSubscriptions).WithTags("Clients");
        api.MapDelete("/clients/{**clientid}", Kick).WithTags("Clients");
        api.MapGet("/subscriptions", Subscriptions).WithTags("Clients");
        api.MapGet("/topics", Topics).WithTags("Clients");
        api.MapPost("/publish", (Func<HttpContext, Task<IResult>>)PublishAsync).WithTags("Publish");
        api.MapPost("/publish/bulk", (Func<HttpContext, Task<IResult>>)PublishBulkAsync).WithTags("Publish");
        api.MapGet("/mqtt/retainer/messages", RetainedMessages).WithTags("Retained messages");
        api.MapGet("/mqtt/retainer/message/{**topic}", RetainedMessage).WithTags("Retained messages");
        api.MapDelete("/mqtt/retainer/message/{**topic}", DeleteRetainedMessage).WithTags("Retained messages");
        api.MapGet("/banned", Bans).WithTags("Banned");
        api.MapPost("/banned", (Func<HttpContext, Task<IResult>>)BanAsync).WithTags("Banned");
        api.MapDelete("/banned/{as}/{**who}", Unban).WithTags("Banned");
        MapApiKeys(api);
        MapDashboardUsers(api);
        MapUsers(api);
        MapAcl(api);
        MapAclCheck(api);
        MapMonitor(api);
        MapTraces(api);
        MapBridges(api);
    }

    /// <summary>An error that is not about one field (404, 409, 500), as problem details with EMQX's <paramref name="code"/>.</summary>
    public static IResult Error(int statusCode, string code, string message) => ApiProblem.Of(statusCode, code, message);

    /// <summary>A refused request body, with the code EMQX gives its status.</summary>
    internal static IResult Error(ApiFailure failure) => ApiProblem.Of(
        failure.Status,
        failure.Status switch
        {
            StatusCodes.Status413PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            StatusCodes.Status415UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            _ => "BAD_REQUEST",
        },
        failure.Message,
        failure.Field,
        failure.ReasonCode);

    /// <summary>A 400 naming the <paramref name="field"/> (or query parameter) it refuses.</summary>
    internal static IResult BadRequest(string field, string message, string code = "BAD_REQUEST")
        => ApiProblem.Of(StatusCodes.Status400BadRequest, code, message, field);

    /// <summary>A 400 for a reader's <see cref="FieldError"/>.</summary>
    internal static IResult BadRequest(FieldError error, string code = "BAD_REQUEST") => BadRequest(error.Field, error.Message, code);

    private static IResult Ok<T>(T value, JsonTypeInfo<T> type) => TypedResults.Json(value, type);

    /// <summary>
    /// <c>GET /api/v5/clients</c> with EMQX's filters; a bad one is <c>400 INVALID_PARAMETER</c> as in EMQX.
    /// <c>clientid</c> and <c>username</c> may be repeated (any of them matches).
    /// </summary>
    private IResult Clients(HttpContext context)
    {
        var query = context.Request.Query;
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError, "INVALID_PARAMETER");
        }

        if (ClientFilter.Read(query, out var filter) is { } error)
        {
            return BadRequest(error, "INVALID_PARAMETER");
        }

        var clients = SortedClients(broker).Where(filter.Matches).ToArray();
        var data = Slice(clients, page, limit).Select(ToV5).ToArray();
        return Ok(new V5ClientPage(data, Meta(page, limit, clients.Length)), Json.V5ClientPage);
    }

    /// <summary><c>GET /api/v5/clients/{clientid}</c>, or <c>.../{clientid}/subscriptions</c>.</summary>
    private IResult ClientOrSubscriptions(HttpContext context)
    {
        const string Subscriptions = "/subscriptions";
        var clientId = RawTail(context, Prefix + "/clients/", "clientid");

        // The raw path tells a client id ending in "/subscriptions" (sent as %2Fsubscriptions) from the sub-resource.
        var raw = RawPath(context);
        if (raw.EndsWith(Subscriptions, StringComparison.Ordinal) && clientId.EndsWith(Subscriptions, StringComparison.Ordinal))
        {
            clientId = clientId[..^Subscriptions.Length];
            if (broker.FindClient(clientId) is null)
            {
                return NoSuchClient(clientId);
            }

            var subscriptions = SortedSubscriptions(broker, clientId).Select(ToV5).ToArray();
            return Ok(subscriptions, Json.V5SubscriptionArray);
        }

        return broker.FindClient(clientId) is { } client ? Ok(ToV5(client), Json.V5Client) : NoSuchClient(clientId);
    }

    /// <summary><c>DELETE /api/v5/clients/{clientid}</c>: kicks a connected client, or discards a kept session.</summary>
    private IResult Kick(HttpContext context)
    {
        var clientId = RawTail(context, Prefix + "/clients/", "clientid");
        return KickOrDiscard(broker, logger, context, clientId) ? TypedResults.NoContent() : NoSuchClient(clientId);
    }

    /// <summary><c>GET /api/v5/subscriptions</c> with EMQX's filters <c>clientid</c>, <c>topic</c>, <c>qos</c>, <c>share_group</c>, <c>match_topic</c>.</summary>
    private IResult Subscriptions(HttpContext context)
    {
        var query = context.Request.Query;
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        var qos = -1;
        if (ReadInt(context.Request, "qos", 0, 2, ref qos) is { } qosError)
        {
            return BadRequest(qosError);
        }

        var matchTopic = query["match_topic"].ToString();
        if (matchTopic.Length > 0 && (MqttTopic.HasWildcards(matchTopic) || !MqttTopic.IsValidTopicName(matchTopic)))
        {
            return BadRequest("match_topic", $"match_topic must be a topic name such as sensors/temp (no + or #), not '{matchTopic}'.");
        }

        var clientId = query["clientid"].ToString();
        var topic = query["topic"].ToString();
        var shareGroup = query["share_group"].ToString();
        var subscriptions = SortedSubscriptions(broker, clientId.Length > 0 ? clientId : null)
            .Where(s => (topic.Length == 0 || s.Filter == topic)
                && (qos < 0 || (int)s.Options.QoS == qos)
                && (shareGroup.Length == 0 || s.ShareGroup == shareGroup)
                && (matchTopic.Length == 0 || MqttTopic.Matches(RouteOf(s), matchTopic)))
            .ToArray();
        var data = Slice(subscriptions, page, limit).Select(ToV5).ToArray();
        return Ok(new V5SubscriptionPage(data, Meta(page, limit, subscriptions.Length)), Json.V5SubscriptionPage);
    }

    /// <summary>
    /// <c>GET /api/v5/topics</c>: EMQX's routing table, every filter at least one session subscribed
    /// to (a shared subscription's without its <c>$share/group/</c>), once; <c>?topic=</c> keeps one.
    /// </summary>
    private IResult Topics(HttpContext context)
    {
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        var topic = context.Request.Query["topic"].ToString();
        var node = context.Request.Query["node"].ToString();
        var routes = new SortedSet<string>(StringComparer.Ordinal);
        if (node.Length == 0 || node == NodeName)
        {
            foreach (var subscription in broker.GetSubscriptions())
            {
                var route = RouteOf(subscription);
                if (topic.Length == 0 || route == topic)
                {
                    routes.Add(route);
                }
            }
        }

        var all = routes.ToArray();
        var data = Slice(all, page, limit).Select(static t => new V5Topic(t, NodeName)).ToArray();
        return Ok(new V5TopicPage(data, Meta(page, limit, all.Length)), Json.V5TopicPage);
    }

    private static IResult NoSuchClient(string clientId)
        => Error(StatusCodes.Status404NotFound, "CLIENTID_NOT_FOUND", $"Client ID not found: no client with id '{clientId}' is connected, and no session is kept for it.");

    private static FieldError? ReadPage(HttpRequest request, out int page, out int limit)
        => ReadPage(request, DefaultLimit, MaxLimit, out page, out limit);

    private static V5Meta Meta(int page, int limit, int count) => new(page, limit, count, (long)page * limit < count);

    /// <summary>The path of the request target as sent, before any decoding.</summary>
    private static string RawPath(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 ? raw[..query] : raw;
    }

    /// <summary>The filter a subscription routes on: a shared one's without <c>$share/group/</c>.</summary>
    private static string RouteOf(SubscriptionSnapshot s)
        => s.ShareGroup is { } group ? s.Filter[("$share/".Length + group.Length + 1)..] : s.Filter;

    /// <summary>RFC 3339 in UTC to the millisecond, as EMQX writes times.</summary>
    internal static string Rfc3339(DateTimeOffset at)
        => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private V5Client ToV5(ClientSnapshot c)
    {
        var options = broker.Options;
        IPEndPoint.TryParse(c.RemoteEndPoint ?? "", out var endPoint);
        c.DroppedByReason.TryGetValue(DropReason.QueueFull, out var queueFull);
        c.DroppedByReason.TryGetValue(DropReason.Expired, out var expired);
        c.DroppedByReason.TryGetValue(DropReason.TooLargeForClient, out var tooLarge);
        return new V5Client(
            c.ClientId,
            c.Username,
            NodeName,
            endPoint?.Address.ToString(),
            endPoint?.Port,
            c.Connected,
            c.ProtocolVersion is { } v ? (v == MqttProtocolVersion.V310 ? "MQIsdp" : "MQTT") : null,
            c.ProtocolVersion is { } version ? (int)version : null,
            c.KeepAlive,
            c.CleanStart,
            c.SessionExpiryInterval,
            c.ConnectedAt is { } connectedAt ? Rfc3339(connectedAt) : null,
            c.DisconnectedAt is { } disconnectedAt ? Rfc3339(disconnectedAt) : null,
            c.Subscriptions,
            c.InflightMessages,
            options.MaxInflight,
            c.QueuedMessages,
            options.MaxQueuedMessages,
            queueFull,
            c.MessagesReceived,
            c.MessagesSent,
            c.BytesReceived,
            c.BytesSent,
            c.Dropped,
            expired,
            queueFull,
            tooLarge,
            IsBridge: c.IsBridge,
            DroppedByName(c.DroppedByReason),
            c.HeldAcknowledgements,
            c.SlowedPublishers,
            c.TimesSlowed);
    }

    private static V5Subscription ToV5(SubscriptionSnapshot s) => new(
        s.ClientId,
        s.Filter,
        (int)s.Options.QoS,
        s.Options.NoLocal ? 1 : 0,
        s.Options.RetainAsPublished ? 1 : 0,
        s.Options.RetainHandling,
        NodeName,
        s.ShareGroup,
        s.SubscriptionIdentifier,
        s.Online);

    /// <summary>Counts by reason under the names <c>$SYS</c> and <c>/metrics</c> use (<c>queue_full</c>), in the reasons' order.</summary>
    internal static Dictionary<string, long> DroppedByName(IReadOnlyDictionary<DropReason, long> counts)
    {
        var named = new Dictionary<string, long>(counts.Count, StringComparer.Ordinal);
        foreach (var reason in DropReasonNames.All)
        {
            if (counts.TryGetValue(reason, out var count))
            {
                named.Add(DropReasonNames.Of(reason), count);
            }
        }

        return named;
    }

    /// <summary>The filters of <c>GET /api/v5/clients</c>.</summary>
    private sealed record ClientFilter(
        string[] ClientIds,
        string[] Usernames,
        IPAddress? Address,
        bool? Connected,
        bool Idle,
        MqttProtocolVersion? Version,
        string LikeClientId,
        string LikeUsername,
        bool? CleanStart,
        bool OtherNode)
    {
        /// <summary>Reads the filters; returns the bad one, or null.</summary>
        public static FieldError? Read(IQueryCollection query, out ClientFilter filter)
        {
            filter = null!;
            IPAddress? address = null;
            var ip = query["ip_address"].ToString();
            if (ip.Length > 0 && !IPAddress.TryParse(ip, out address))
            {
                return new FieldError("ip_address", $"ip_address must be an IP address such as 127.0.0.1, not '{ip}'.");
            }

            bool? connected = null;
            var idle = false;
            switch (query["conn_state"].ToString())
            {
                case "":
                    break;
                case "connected":
                    connected = true;
                    break;
                case "disconnected":
                    connected = false;
                    break;
                case "idle":
                    // Connected at TCP level but not yet through CONNECT: Tern lists no such client.
                    idle = true;
                    break;
                case var other:
                    return new FieldError("conn_state", $"conn_state must be connected, idle or disconnected, not '{other}'.");
            }

            MqttProtocolVersion? version = null;
            switch (query["proto_ver"].ToString())
            {
                case "":
                    break;
                case "3":
                    version = MqttProtocolVersion.V310;
                    break;
                case "4":
                    version = MqttProtocolVersion.V311;
                    break;
                case "5":
                    version = MqttProtocolVersion.V500;
                    break;
                case var other:
                    return new FieldError("proto_ver", $"proto_ver must be 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not '{other}'.");
            }

            bool? cleanStart = null;
            switch (query["clean_start"].ToString())
            {
                case "":
                    break;
                case "true":
                    cleanStart = true;
                    break;
                case "false":
                    cleanStart = false;
                    break;
                case var other:
                    return new FieldError("clean_start", $"clean_start must be true or false, not '{other}'.");
            }

            var node = query["node"].ToString();
            filter = new ClientFilter(
                Values(query, "clientid"),
                Values(query, "username"),
                address,
                connected,
                idle,
                version,
                query["like_clientid"].ToString(),
                query["like_username"].ToString(),
                cleanStart,
                node.Length > 0 && node != NodeName);
            return null;
        }

        public bool Matches(ClientSnapshot c)
            => !Idle && !OtherNode
                && (ClientIds.Length == 0 || Array.IndexOf(ClientIds, c.ClientId) >= 0)
                && (Usernames.Length == 0 || (c.Username is { } user && Array.IndexOf(Usernames, user) >= 0))
                && (Address is null || (IPEndPoint.TryParse(c.RemoteEndPoint ?? "", out var endPoint) && endPoint.Address.Equals(Address)))
                && (Connected is not { } connected || c.Connected == connected)
                && (Version is not { } version || c.ProtocolVersion == version)
                && (LikeClientId.Length == 0 || c.ClientId.Contains(LikeClientId, StringComparison.Ordinal))
                && (LikeUsername.Length == 0 || (c.Username?.Contains(LikeUsername, StringComparison.Ordinal) ?? false))
                && (CleanStart is not { } cleanStart || c.CleanStart == cleanStart);

        // EMQX takes a list as repeated parameters (clientid=a&clientid=b).
        private static string[] Values(IQueryCollection query, string name)
            => [.. query[name].Where(static v => !string.IsNullOrEmpty(v)).Select(static v => v!)];
    }
}
