using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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
        return Ok(new StatusResponse(snapshot.Version, startedAt, listeners(), credentials.Username, credentials.UsesDefaultPassword), Json.StatusResponse);
    }

    private IResult Clients(HttpContext context)
    {
        if (!TryReadPage(context.Request, out var page, out var limit, out var error))
        {
            return error;
        }

        var clients = SortedClients(broker);
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
        return KickOrDiscard(broker, logger, context, clientId) ? TypedResults.NoContent() : NoSuchClient(clientId);
    }

    private IResult Subscriptions(HttpContext context)
    {
        if (!TryReadPage(context.Request, out var page, out var limit, out var error))
        {
            return error;
        }

        var clientId = context.Request.Query["clientId"].ToString();
        var subscriptions = SortedSubscriptions(broker, clientId.Length > 0 ? clientId : null);
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

    /// <summary>The client id of <c>/api/v1/clients/{id}</c> (see <see cref="RawTail"/>).</summary>
    private static string ClientIdFrom(HttpContext context) => RawTail(context, Prefix + "/clients/", "clientId");

    private static bool TryReadPage(HttpRequest request, out int page, out int limit, out IResult error)
    {
        if (ReadPage(request, DefaultLimit, MaxLimit, out page, out limit) is { } message)
        {
            error = Error(StatusCodes.Status400BadRequest, message);
            return false;
        }

        error = null!;
        return true;
    }
}
