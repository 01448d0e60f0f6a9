using System.Globalization;
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
using Tern.Server.Persistence;

namespace Tern.Server.Dashboard;

/// <summary>
/// The REST API under <c>/api/v1</c> (docs/rest-api.md): reads the broker's admin views, kicks
/// clients and publishes. Authentication happens before routing (<see cref="DashboardSetup"/>).
/// </summary>
internal sealed partial class DashboardApi(
    MqttBroker broker,
    PersistenceMode persistenceMode,
    DashboardCredentials credentials,
    bool defaultPassword,
    Func<IReadOnlyList<string>> listeners,
    ILogger logger)
{
    public const string Prefix = "/api/v1";

    private const int DefaultLimit = 100;
    private const int MaxLimit = 1000;

    // Relaxed escaping keeps quotes and '+' readable in error messages; these documents are only
    // ever served as application/json with nosniff, never embedded in a page.
    private static readonly DashboardJsonContext Json = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(Prefix);
        api.MapGet("/stats", Stats);
        api.MapGet("/status", Status);
        api.MapGet("/clients", Clients);

        // A catch-all: client ids may contain '/' (sent as %2F, see ClientIdFrom).
        api.MapGet("/clients/{**clientId}", Client);
        api.MapDelete("/clients/{**clientId}", Kick);
        api.MapGet("/subscriptions", Subscriptions);
        api.MapPost("/publish", (Func<HttpContext, Task<IResult>>)PublishAsync);
        api.MapGet("/retained", Retained);
    }

    /// <summary>An error document with its status code.</summary>
    public static IResult Error(int statusCode, string message)
        => TypedResults.Json(new ErrorResponse(message), Json.ErrorResponse, statusCode: statusCode);

    private IResult Stats()
    {
        var s = broker.GetSnapshot();
        return Ok(
            new StatsResponse(
                s.Version,
                (long)s.Uptime.TotalSeconds,
                s.ConnectedClients,
                s.Sessions,
                s.Subscriptions,
                broker.CountRetainedMessages(),
                s.MessagesReceived,
                s.MessagesSent,
                s.BytesReceived,
                s.BytesSent,
                s.MessagesDropped,
                ByName(s.Dropped),
                s.ProtocolErrors,
                s.InternalErrors,
                s.SlowConsumersClosed,
                s.ConnectionsTotal,
                s.ConnectionsRefused,
                Store()),
            Json.StatsResponse);
    }

    /// <summary>The store's figures, or null when the broker keeps nothing (memory mode).</summary>
    private StoreResponse? Store()
    {
        // The broker knows its store but not the mode it was opened in; the host's options do.
        if (broker.GetStoreSnapshot() is not { } store)
        {
            return null;
        }

        var mode = persistenceMode switch
        {
            PersistenceMode.Strict => "strict",
            PersistenceMode.Durable => "durable",
            _ => "memory",
        };
        return new StoreResponse(mode, store.Location, store.SizeBytes, store.Commits, store.RowsWritten, store.LastCommit, store.Failure);
    }

    private IResult Status()
    {
        var snapshot = broker.GetSnapshot();
        var startedAt = DateTimeOffset.UtcNow - snapshot.Uptime;
        return Ok(new StatusResponse(snapshot.Version, startedAt, listeners(), credentials.Username, defaultPassword), Json.StatusResponse);
    }

    private IResult Clients(HttpContext context)
    {
        if (!TryReadPage(context.Request, out var page, out var limit, out var error))
        {
            return error;
        }

        var clients = broker.GetClients().ToArray();
        Array.Sort(clients, static (a, b) => string.CompareOrdinal(a.ClientId, b.ClientId));
        var data = Slice(clients, page, limit).Select(ToResponse).ToArray();
        return Ok(new ClientPage(data, new PageMeta(page, limit, clients.Length)), Json.ClientPage);
    }

    private IResult Client(HttpContext context)
    {
        var clientId = ClientIdFrom(context);
        return broker.FindClient(clientId) is { } client
            ? Ok(ToResponse(client), Json.ClientResponse)
            : NoSuchClient(clientId);
    }

    /// <summary>
    /// Kicks a connected client (its persistent session stays), or discards the session of one
    /// that is not connected, as EMQX's <c>DELETE /clients/{id}</c> does.
    /// </summary>
    private IResult Kick(HttpContext context)
    {
        var clientId = ClientIdFrom(context);
        var remote = context.Connection.RemoteIpAddress?.ToString();
        if (broker.DisconnectClient(clientId, "disconnected by an administrator (REST API)"))
        {
            DashboardLog.Kicked(logger, clientId, remote);
        }
        else if (broker.DiscardSession(clientId))
        {
            DashboardLog.SessionDiscarded(logger, clientId, remote);
        }
        else
        {
            return NoSuchClient(clientId);
        }

        return TypedResults.NoContent();
    }

    private IResult Subscriptions(HttpContext context)
    {
        if (!TryReadPage(context.Request, out var page, out var limit, out var error))
        {
            return error;
        }

        var clientId = context.Request.Query["clientId"].ToString();
        var subscriptions = broker.GetSubscriptions(clientId.Length > 0 ? clientId : null).ToArray();
        Array.Sort(subscriptions, static (a, b) =>
        {
            var byClient = string.CompareOrdinal(a.ClientId, b.ClientId);
            return byClient != 0 ? byClient : string.CompareOrdinal(a.Filter, b.Filter);
        });
        var data = Slice(subscriptions, page, limit)
            .Select(static s => new SubscriptionResponse(
                s.ClientId,
                s.Filter,
                (int)s.Options.QoS,
                s.Options.NoLocal,
                s.Options.RetainAsPublished,
                s.Options.RetainHandling,
                s.ShareGroup,
                s.SubscriptionIdentifier,
                s.Online))
            .ToArray();
        return Ok(new SubscriptionPage(data, new PageMeta(page, limit, subscriptions.Length)), Json.SubscriptionPage);
    }

    private static IResult Ok<T>(T value, JsonTypeInfo<T> type) => TypedResults.Json(value, type);

    private static IResult NoSuchClient(string clientId)
        => Error(StatusCodes.Status404NotFound, $"No client with id '{clientId}' is connected, and no session is kept for it.");

    private static ClientResponse ToResponse(ClientSnapshot c) => new(
        c.ClientId,
        c.Connected,
        c.Username,
        c.RemoteEndPoint,
        c.ProtocolVersion is { } version ? VersionName(version) : null,
        c.KeepAlive,
        c.ConnectedAt,
        c.DisconnectedAt,
        c.MessagesReceived,
        c.MessagesSent,
        c.BytesReceived,
        c.BytesSent,
        c.Subscriptions,
        c.QueuedMessages,
        c.InflightMessages,
        c.Dropped,
        ByName(c.DroppedByReason),
        c.SlowedPublishers,
        c.HeldAcknowledgements,
        c.TimesSlowed,
        c.SessionExpiryInterval == uint.MaxValue ? null : c.SessionExpiryInterval,
        c.SessionExpiresAt);

    /// <summary>Counts by reason under the names <c>$SYS</c> uses (<c>queue_full</c>), in the reasons' order.</summary>
    private static Dictionary<string, long> ByName(IReadOnlyDictionary<DropReason, long> counts)
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

    private static string VersionName(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V310 => "3.1",
        MqttProtocolVersion.V311 => "3.1.1",
        MqttProtocolVersion.V500 => "5.0",
        _ => version.ToString(),
    };

    /// <summary>
    /// The client id of <c>/api/v1/clients/{id}</c>, percent-decoded once from the raw request
    /// target: the server leaves <c>%2F</c> encoded in the path, and a client id may hold '/'.
    /// </summary>
    private static string ClientIdFrom(HttpContext context)
    {
        const string Route = Prefix + "/clients/";
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }

        if (raw.StartsWith(Route, StringComparison.Ordinal))
        {
            return Uri.UnescapeDataString(raw[Route.Length..]);
        }

        // An absolute-form or dot-segment target: the route value, as the server decoded it.
        return context.Request.RouteValues["clientId"] as string ?? "";
    }

    private static bool TryReadPage(HttpRequest request, out int page, out int limit, out IResult error)
    {
        error = null!;
        page = 1;
        limit = DefaultLimit;
        if (!TryReadInt(request, "page", 1, int.MaxValue, ref page, out error))
        {
            return false;
        }

        return TryReadInt(request, "limit", 1, MaxLimit, ref limit, out error);
    }

    private static bool TryReadInt(HttpRequest request, string name, int min, int max, ref int value, out IResult error)
    {
        error = null!;
        var text = request.Query[name].ToString();
        if (text.Length == 0)
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < min || parsed > max)
        {
            error = Error(StatusCodes.Status400BadRequest, $"{name} must be a whole number from {min} to {max}, not '{text}'.");
            return false;
        }

        value = parsed;
        return true;
    }

    private static ArraySegment<T> Slice<T>(T[] items, int page, int limit)
    {
        var start = (long)(page - 1) * limit;
        if (start >= items.Length)
        {
            return [];
        }

        return new ArraySegment<T>(items, (int)start, (int)Math.Min(limit, items.Length - start));
    }
}
