using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tern.Server.Dashboard;

// The REST API's documents (docs/rest-api.md), serialized with the source generator: camelCase, no reflection.

/// <summary><c>GET /api/v1/stats</c>.</summary>
internal sealed record StatsResponse(
    string Version,
    long UptimeSeconds,
    int Connections,
    int Sessions,
    int Subscriptions,
    int Retained,
    long MessagesReceived,
    long MessagesSent,
    long BytesReceived,
    long BytesSent,
    long MessagesDropped,
    IReadOnlyDictionary<string, long> Dropped,
    long ProtocolErrors,
    long InternalErrors,
    long SlowConsumersClosed,
    long ConnectionsTotal,
    long ConnectionsRefused,
    StoreResponse? Store);

/// <summary>The store in <c>/api/v1/stats</c>; null there with <c>Persistence:Mode=memory</c>. Rates are left to the caller, from two calls.</summary>
/// <param name="Mode"><c>durable</c> or <c>strict</c>.</param>
/// <param name="Path">The store's file.</param>
/// <param name="SizeBytes">Bytes on disk, database and log.</param>
/// <param name="Commits">Batches written since start.</param>
/// <param name="RowsWritten">Rows inserted, replaced or deleted since start.</param>
/// <param name="LastCommit">When the last batch was written; null before the first.</param>
/// <param name="Failure">Why writing failed; null while it works.</param>
internal sealed record StoreResponse(
    string Mode,
    string Path,
    long SizeBytes,
    long Commits,
    long RowsWritten,
    DateTimeOffset? LastCommit,
    string? Failure);

/// <summary><c>GET /api/v1/status</c>: what the dashboard shows besides the counters.</summary>
internal sealed record StatusResponse(
    string Version,
    DateTimeOffset StartedAt,
    IReadOnlyList<string> Listeners,
    string Username,
    bool DefaultPassword);

/// <summary>One connected client, or the persistent session of a disconnected one.</summary>
internal sealed record ClientResponse(
    string ClientId,
    bool Connected,
    string? Username,
    string? RemoteAddress,
    string? ProtocolVersion,
    int? KeepAlive,
    DateTimeOffset? ConnectedAt,
    DateTimeOffset? DisconnectedAt,
    long MessagesReceived,
    long MessagesSent,
    long BytesReceived,
    long BytesSent,
    int Subscriptions,
    int QueuedMessages,
    int InflightMessages,
    long Dropped,
    IReadOnlyDictionary<string, long> DroppedByReason,
    int SlowedPublishers,
    int HeldAcknowledgements,
    long TimesSlowed,
    long? SessionExpiryInterval,
    DateTimeOffset? SessionExpiresAt);

/// <summary>One subscription of one session.</summary>
internal sealed record SubscriptionResponse(
    string ClientId,
    string Filter,
    int Qos,
    bool NoLocal,
    bool RetainAsPublished,
    int RetainHandling,
    string? ShareGroup,
    long? SubscriptionIdentifier,
    bool Online);

/// <summary>One retained message; the payload is cut to a preview in lists.</summary>
internal sealed record RetainedResponse(
    string Topic,
    int Qos,
    int Size,
    string Payload,
    string Encoding,
    bool Truncated,
    DateTimeOffset StoredAt);

/// <summary>Where a page is in a list: <c>count</c> is the number of items in the whole list.</summary>
internal sealed record PageMeta(int Page, int Limit, int Count);

internal sealed record ClientPage(IReadOnlyList<ClientResponse> Data, PageMeta Meta);

internal sealed record SubscriptionPage(IReadOnlyList<SubscriptionResponse> Data, PageMeta Meta);

internal sealed record RetainedPage(IReadOnlyList<RetainedResponse> Data, PageMeta Meta);

/// <summary>Whether any subscription matched the published topic.</summary>
internal sealed record PublishResponse(string Topic, bool Matched);

/// <summary>Every 4xx answer: one sentence saying what was wrong.</summary>
internal sealed record ErrorResponse(string Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StatsResponse))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(ClientResponse))]
[JsonSerializable(typeof(ClientPage))]
[JsonSerializable(typeof(SubscriptionPage))]
[JsonSerializable(typeof(RetainedPage))]
[JsonSerializable(typeof(PublishResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;
