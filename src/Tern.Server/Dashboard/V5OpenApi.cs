using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Scalar.AspNetCore;

namespace Tern.Server.Dashboard;

/// <summary>
/// The OpenAPI document of <c>/api/v5</c>, generated from the mapped endpoints, at
/// <see cref="DocumentPath"/>, and an interactive reference page (Scalar) at <see cref="DocsPath"/>.
/// Both sit behind the API's authentication like every other path under <c>/api</c>.
/// </summary>
internal static class V5OpenApi
{
    /// <summary>Where the OpenAPI document is served.</summary>
    public const string DocumentPath = V5Api.Prefix + "/openapi.json";

    /// <summary>Where the reference page is served.</summary>
    public const string DocsPath = V5Api.Prefix + "/docs";

    /// <summary>
    /// The reference page configures itself with an inline script and styles; it needs nothing from
    /// another origin (its script is served from the broker).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void AddServices(IServiceCollection services)
    {
        services.AddOpenApi(options =>
        {
            // Only /api/v5: the dashboard's login (/api/dashboard) is described in docs/rest-api.md.
            options.ShouldInclude = static description => description.RelativePath?.StartsWith("api/v5/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Tern REST API (/api/v5, EMQX-compatible)";
                document.Info.Version = "v5";
                document.Info.Description = "EMQX 5's paths and documents where Tern has the feature; see docs/rest-api.md for the differences. "
                    + "Authenticate with HTTP Basic (the dashboard user, or an API key and its secret) or a bearer token from POST /api/v5/login.";
                return Task.CompletedTask;
            });
        });
    }

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi(DocumentPath);
        endpoints.MapScalarApiReference(DocsPath, static options => options
            .WithTitle("Tern REST API")
            .WithOpenApiRoutePattern(DocumentPath));
    }
}
