using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Broker;

namespace Tern.Server.Dashboard;

/// <summary>
/// EMQX's log trace API: <c>/api/v5/trace</c> starts, lists and deletes traces of a client id or a
/// topic filter; <c>/api/v5/trace/{name}/log</c> reads one from a byte position, as EMQX reads its
/// trace file, so that a reader that keeps the position it got back follows the trace live. Tern
/// keeps a trace's newest lines in memory (1 MiB), not in a file.
/// </summary>
internal sealed partial class V5Api
{
    private const int DefaultLogBytes = 1000;
    private const int MaxLogBytes = 1 << 20;

    private static readonly string[] TraceFields = ["name", "type", "clientid", "topic", "start_at", "end_at", "payload_encode"];

    private static readonly V5TraceJsonContext TraceJson = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });

    private void MapTraces(RouteGroupBuilder api)
    {
        api.MapGet("/trace", Traces).WithTags("Trace");
        api.MapPost("/trace", (Func<HttpContext, Task<IResult>>)StartTraceAsync).WithTags("Trace");
        api.MapDelete("/trace/{name}", StopTrace).WithTags("Trace");
        api.MapGet("/trace/{name}/log", TraceLog).WithTags("Trace");
    }

    /// <summary><c>GET /api/v5/trace</c>: every trace, oldest first.</summary>
    private IResult Traces() => TypedResults.Json(broker.Traces.All.Select(ToV5).ToArray(), TraceJson.V5TraceArray);

    /// <summary><c>POST /api/v5/trace</c> with EMQX's body: starts recording at once.</summary>
    private async Task<IResult> StartTraceAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (ReadTrace(document.RootElement, out var name, out var kind, out var value, out var endAt) is { } error)
            {
                return BadRequest(error);
            }

            var trace = broker.Traces.Start(name, kind, value, endAt, out var refused);
            if (trace is null)
            {
                return refused!.StartsWith("a trace named", StringComparison.Ordinal)
                    ? BadRequest("name", $"name: {refused}.", "ALREADY_EXISTS")
                    : BadRequest(kind == TraceKind.Topic ? "topic" : "clientid", kind == TraceKind.Topic ? $"topic: {refused}." : $"clientid: {refused}.");
            }

            V5Log.TraceStarted(logger, name, kind == TraceKind.ClientId ? "clientid" : "topic", value, context.Connection.RemoteIpAddress?.ToString());
            return TypedResults.Json(ToV5(trace), TraceJson.V5Trace);
        }
    }

    /// <summary><c>DELETE /api/v5/trace/{name}</c>: 204, or 404.</summary>
    private IResult StopTrace(string name, HttpContext context)
    {
        if (!broker.Traces.Stop(name))
        {
            return Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"name: no trace named '{name}'.");
        }

        V5Log.TraceStopped(logger, name, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary><c>GET /api/v5/trace/{name}/log?position=&amp;bytes=</c>: whole lines from the position, and the position after them.</summary>
    private IResult TraceLog(string name, HttpContext context)
    {
        if (broker.Traces.Find(name) is not { } trace)
        {
            return Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"name: no trace named '{name}'.");
        }

        var query = context.Request.Query;
        long position = 0;
        var bytes = DefaultLogBytes;
        if (query.TryGetValue("position", out var p) && (!long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out position)))
        {
            return BadRequest("position", $"position must be a whole number of 0 or more, not '{p}'.");
        }

        if (query.TryGetValue("bytes", out var b) && (!int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out bytes) || bytes is < 1 or > MaxLogBytes))
        {
            return BadRequest("bytes", $"bytes must be between 1 and {MaxLogBytes}, not '{b}'.");
        }

        var (text, next) = trace.Read(position, bytes);
        return TypedResults.Json(new V5TraceLog(text, new V5TraceLogMeta(next, System.Text.Encoding.UTF8.GetByteCount(text))), TraceJson.V5TraceLog);
    }

    private static FieldError? ReadTrace(JsonElement root, out string name, out TraceKind kind, out string value, out DateTimeOffset? endAt)
    {
        name = value = "";
        kind = TraceKind.ClientId;
        endAt = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FieldError("body", "The request body must be a JSON object such as {\"name\": \"device-1\", \"type\": \"clientid\", \"clientid\": \"device-1\"}.");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(TraceFields, property.Name) < 0)
            {
                return new FieldError(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", TraceFields)}.");
            }
        }

        name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
        if (name.Length is 0 or > 256 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return new FieldError("name", "name is required: 1 to 256 letters, digits, '-' or '_'.");
        }

        var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        (kind, var field) = type switch
        {
            "clientid" => (TraceKind.ClientId, "clientid"),
            "topic" => (TraceKind.Topic, "topic"),
            _ => (TraceKind.ClientId, ""),
        };
        if (field.Length == 0)
        {
            return new FieldError("type", $"type must be clientid or topic, not '{type}' (ip_address and ruleid traces are not supported).");
        }

        value = root.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        if (value.Length == 0)
        {
            return new FieldError(field, $"{field} is required with type {type}.");
        }

        if (root.TryGetProperty("end_at", out var end))
        {
            if (end.ValueKind != JsonValueKind.String || !DateTimeOffset.TryParse(end.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                return new FieldError("end_at", "end_at must be a date and time, such as 2026-12-03T12:00:00Z.");
            }

            endAt = at;
        }

        return null;
    }

    private static V5Trace ToV5(TraceSession trace) => new(
        trace.Name,
        trace.Kind == TraceKind.ClientId ? "clientid" : "topic",
        trace.Kind == TraceKind.ClientId ? trace.Value : null,
        trace.Kind == TraceKind.Topic ? trace.Value : null,
        trace.StartedAt.ToString("O", CultureInfo.InvariantCulture),
        trace.EndAt?.ToString("O", CultureInfo.InvariantCulture),
        trace.EndAt is { } end && end <= DateTimeOffset.UtcNow ? "stopped" : "running",
        new Dictionary<string, long> { [NodeName] = trace.Size });
}

/// <summary>Trace log messages (event ids 1140-1149).</summary>
internal static partial class V5Log
{
    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1140, Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Trace {Name} of {Type} {Value} started from {Remote} (REST API)")]
    public static partial void TraceStarted(Microsoft.Extensions.Logging.ILogger logger, string name, string type, string value, string? remote);

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1141, Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Trace {Name} deleted from {Remote} (REST API)")]
    public static partial void TraceStopped(Microsoft.Extensions.Logging.ILogger logger, string name, string? remote);
}

/// <summary>A trace as EMQX describes one.</summary>
internal sealed record V5Trace(string Name, string Type, string? Clientid, string? Topic, string StartAt, string? EndAt, string Status, Dictionary<string, long> LogSize);

/// <summary>A piece of a trace's log: <c>items</c> is text (lines), <c>meta.position</c> where to read next.</summary>
internal sealed record V5TraceLog(string Items, V5TraceLogMeta Meta);

internal sealed record V5TraceLogMeta(long Position, int Bytes);

[JsonSerializable(typeof(V5Trace))]
[JsonSerializable(typeof(V5Trace[]), TypeInfoPropertyName = "V5TraceArray")]
[JsonSerializable(typeof(V5TraceLog))]
internal sealed partial class V5TraceJsonContext : JsonSerializerContext;
