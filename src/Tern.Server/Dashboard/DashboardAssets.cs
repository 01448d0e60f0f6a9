using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Tern.Server.Dashboard;

/// <summary>
/// The dashboard's page, script and style, embedded in this assembly (no build step, no files on
/// disk) and served with an ETag so a browser revalidates instead of downloading again.
/// </summary>
internal sealed class DashboardAssets
{
    private const string ResourcePrefix = "dashboard/";

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var file = name[ResourcePrefix.Length..];
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 12)) + "\"";
            _assets["/" + file] = new Asset(content, ContentType(file), etag);
        }

        if (!_assets.ContainsKey("/index.html"))
        {
            throw new InvalidOperationException("The dashboard's index.html is not embedded in Tern.Server.");
        }
    }

    /// <summary>Paths served, <c>/</c> being <c>/index.html</c>.</summary>
    public IEnumerable<string> Paths => _assets.Keys;

    public Task ServeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value;
        if (path is null or "/" or "")
        {
            path = "/index.html";
        }

        if (!_assets.TryGetValue(path, out var asset))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        var response = context.Response;
        response.Headers.ETag = asset.ETag;
        response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Content.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
    }

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
