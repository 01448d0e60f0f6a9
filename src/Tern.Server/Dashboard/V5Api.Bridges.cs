using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Server.Bridges;

namespace Tern.Server.Dashboard;

/// <summary>
/// <c>GET /api/v5/bridges</c>: Tern's own endpoint (EMQX's <c>/bridges</c> documents its data
/// integration actions, which Tern does not have): the state of each configured MQTT bridge.
/// </summary>
internal sealed partial class V5Api
{
    private static readonly V5BridgeJsonContext BridgeJson = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>The bridges of this server, or null when it runs none.</summary>
    public BridgeService? BridgeService { get; init; }

    private void MapBridges(RouteGroupBuilder api)
        => api.MapGet("/bridges", Bridges).WithTags("Bridges");

    /// <summary><c>GET /api/v5/bridges</c>: every configured bridge, in configuration order.</summary>
    private IResult Bridges()
    {
        var bridges = BridgeService?.Bridges ?? [];
        var documents = new V5Bridge[bridges.Count];
        for (var i = 0; i < documents.Length; i++)
        {
            var s = bridges[i].Status();
            documents[i] = new V5Bridge(
                s.Name,
                s.Address,
                s.ProtoVer,
                s.Clientid,
                s.Connected,
                s.State,
                s.Subscribed,
                s.ConnectedAt?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture),
                s.Queued,
                s.MaxQueued,
                s.Sent,
                s.Received,
                s.Dropped,
                s.LastError);
        }

        return TypedResults.Json(documents, BridgeJson.V5BridgeArray);
    }
}

/// <summary>One bridge of <c>GET /api/v5/bridges</c> (docs/rest-api.md).</summary>
internal sealed record V5Bridge(
    string Name,
    string Address,
    string ProtoVer,
    string Clientid,
    bool Connected,
    string State,
    bool Subscribed,
    string? ConnectedAt,
    int Queued,
    int MaxQueued,
    long Sent,
    long Received,
    long Dropped,
    string? LastError);

[JsonSerializable(typeof(V5Bridge[]), TypeInfoPropertyName = "V5BridgeArray")]
internal sealed partial class V5BridgeJsonContext : JsonSerializerContext;
