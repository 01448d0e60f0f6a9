using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    private static readonly string[] ApiKeyFields = ["name", "expired_at", "desc", "enable"];

    /// <summary>Adds <c>/api/v5/api_key</c>: keys for scripts, sent as HTTP Basic <c>key:secret</c>.</summary>
    private void MapApiKeys(RouteGroupBuilder api)
    {
        api = api.MapGroup(string.Empty).WithTags("API keys");
        api.MapGet("/api_key", ApiKeys);
        api.MapPost("/api_key", (Func<HttpContext, Task<IResult>>)CreateApiKeyAsync);
        api.MapGet("/api_key/{name}", ApiKey);
        api.MapPut("/api_key/{name}", (Func<HttpContext, Task<IResult>>)UpdateApiKeyAsync);
        api.MapDelete("/api_key/{name}", DeleteApiKey);
    }

    /// <summary><c>GET /api/v5/api_key</c>: every key, without its secret (EMQX answers a bare list).</summary>
    private IResult ApiKeys()
    {
        var now = DateTimeOffset.UtcNow;
        return Ok(management.ApiKeys.All.Select(k => ToV5(k, now, secret: null)).ToArray(), Json.V5ApiKeyDocumentArray);
    }

    private IResult ApiKey(HttpContext context)
    {
        var name = context.Request.RouteValues["name"] as string ?? "";
        return management.ApiKeys.All.FirstOrDefault(k => k.Name == name) is { } key
            ? Ok(ToV5(key, DateTimeOffset.UtcNow, secret: null), Json.V5ApiKeyDocument)
            : NoSuchApiKey(name);
    }

    /// <summary><c>POST /api/v5/api_key</c>: the answer holds <c>api_secret</c>, shown this once only.</summary>
    private async Task<IResult> CreateApiKeyAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            var root = document.RootElement;
            if (ReadApiKeyBody(root, requireName: true, out var body) is { } error)
            {
                return BadRequest(error);
            }

            if (management.ApiKeys.Create(body.Name!, body.ExpiredAt, body.Desc ?? "", body.Enable ?? true) is not { } created)
            {
                return BadRequest("name", $"name: an API key named '{body.Name}' already exists; delete it first or pick another name.", "ALREADY_EXISTS");
            }

            V5Log.ApiKeyCreated(logger, created.Key.Name, context.Connection.RemoteIpAddress?.ToString());
            return Ok(ToV5(created.Key, DateTimeOffset.UtcNow, created.Secret), Json.V5ApiKeyDocument);
        }
    }

    /// <summary><c>PUT /api/v5/api_key/{name}</c>: changes <c>enable</c>, <c>expired_at</c> or <c>desc</c>.</summary>
    private async Task<IResult> UpdateApiKeyAsync(HttpContext context)
    {
        var name = context.Request.RouteValues["name"] as string ?? "";
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (ReadApiKeyBody(document.RootElement, requireName: false, out var body) is { } error)
            {
                return BadRequest(error);
            }

            if (body.Name is { } renamed && renamed != name)
            {
                return BadRequest("name", $"name '{renamed}' differs from the key in the path '{name}': a key cannot be renamed.");
            }

            return management.ApiKeys.Update(name, body.Enable, body.ExpiredAt, body.HasExpiry, body.Desc) is { } key
                ? Ok(ToV5(key, DateTimeOffset.UtcNow, secret: null), Json.V5ApiKeyDocument)
                : NoSuchApiKey(name);
        }
    }

    private IResult DeleteApiKey(HttpContext context)
    {
        var name = context.Request.RouteValues["name"] as string ?? "";
        if (!management.ApiKeys.Delete(name))
        {
            return NoSuchApiKey(name);
        }

        V5Log.ApiKeyDeleted(logger, name, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    private static IResult NoSuchApiKey(string name)
        => Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"name: no API key named '{name}'.");

    private static V5ApiKeyDocument ToV5(V5ApiKey key, DateTimeOffset now, string? secret) => new(
        key.Name,
        key.ApiKey,
        secret,
        key.ExpiredAt is { } at ? Rfc3339(at) : Infinity,
        Rfc3339(key.CreatedAt),
        key.Desc,
        key.Enable,
        key.IsExpired(now));

    /// <summary>Reads the body of a create or update; returns the sentence naming the bad field, or null.</summary>
    private static FieldError? ReadApiKeyBody(JsonElement root, bool requireName, out ApiKeyBody body)
    {
        body = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FieldError("body", "The request body must be a JSON object such as {\"name\": \"deploy-script\", \"expired_at\": \"infinity\", \"desc\": \"CI\", \"enable\": true}.");
        }

        foreach (var property in root.EnumerateObject())
        {
            // EMQX's own answers carry these; a script may send a key back as it got it.
            if (Array.IndexOf(ApiKeyFields, property.Name) < 0 && property.Name is not ("api_key" or "created_at" or "expired" or "role"))
            {
                return new FieldError(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", ApiKeyFields)}.");
            }
        }

        string? name = null;
        if (root.TryGetProperty("name", out var nameElement))
        {
            name = nameElement.ValueKind == JsonValueKind.String ? nameElement.GetString() : null;
            if (name is null || !ApiKeyName().IsMatch(name))
            {
                return new FieldError("name", $"name must be 1 to 256 letters, digits, '-' or '_', starting with a letter, not {nameElement.GetRawText()}.");
            }
        }
        else if (requireName)
        {
            return new FieldError("name", "name is required: 1 to 256 letters, digits, '-' or '_', starting with a letter.");
        }

        DateTimeOffset? expiredAt = null;
        var hasExpiry = root.TryGetProperty("expired_at", out var expiredElement);
        if (hasExpiry)
        {
            if (ReadTime(expiredElement, "expired_at", out expiredAt) is { } timeError)
            {
                return timeError;
            }

            if (expiredAt <= DateTimeOffset.UtcNow)
            {
                return new FieldError("expired_at", $"expired_at {expiredElement.GetRawText()} is in the past: give a later time, or \"infinity\".");
            }
        }

        string? desc = null;
        if (root.TryGetProperty("desc", out var descElement) && descElement.ValueKind != JsonValueKind.Null)
        {
            if (descElement.ValueKind != JsonValueKind.String)
            {
                return new FieldError("desc", $"desc must be a string, not {descElement.GetRawText()}.");
            }

            desc = descElement.GetString()!;
            if (desc.Length > 256)
            {
                return new FieldError("desc", "desc must be at most 256 characters.");
            }
        }

        bool? enable = null;
        if (root.TryGetProperty("enable", out var enableElement))
        {
            if (enableElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return new FieldError("enable", $"enable must be true or false, not {enableElement.GetRawText()}.");
            }

            enable = enableElement.GetBoolean();
        }

        body = new ApiKeyBody(name, expiredAt, hasExpiry, desc, enable);
        return null;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,255}$")]
    private static partial Regex ApiKeyName();

    private readonly record struct ApiKeyBody(string? Name, DateTimeOffset? ExpiredAt, bool HasExpiry, string? Desc, bool? Enable);
}
