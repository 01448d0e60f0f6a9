using System.Net;
using System.Text.Json;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>The generated OpenAPI document of <c>/api/v5</c> and its reference page, behind the API's authentication.</summary>
public sealed class V5OpenApiTests
{
    [Fact]
    public async Task The_openapi_document_lists_the_v5_paths_and_nothing_else()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var document = await GetOkAsync(dashboard.Http, "api/v5/openapi.json");

        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths").EnumerateObject().Select(static p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var expected in new[]
        {
            "/api/v5/clients", "/api/v5/publish", "/api/v5/banned", "/api/v5/api_key", "/api/v5/api_key/{name}",
            "/api/v5/authentication/password_based:built_in_database/users",
            "/api/v5/authentication/password_based:built_in_database/users/{user_id}",
            "/api/v5/authorization/sources/built_in_database/rules/users", "/api/v5/authorization/sources/built_in_database/rules/clients/{who}",
            "/api/v5/authorization/sources/built_in_database/rules/all", "/api/v5/stats", "/api/v5/metrics", "/api/v5/nodes", "/api/v5/nodes/{node}",
            "/api/v5/listeners", "/api/v5/authorization/check",
            "/api/v5/users/{username}/change_pwd", "/api/v5/trace", "/api/v5/trace/{name}/log",
        })
        {
            Assert.Contains(expected, paths);
        }

        Assert.All(paths, static p => Assert.StartsWith("/api/v5/", p, StringComparison.Ordinal));
        var apiKey = document.GetProperty("paths").GetProperty("/api/v5/api_key");
        Assert.True(apiKey.TryGetProperty("get", out _));
        Assert.True(apiKey.TryGetProperty("post", out _));
        Assert.Equal("API keys", apiKey.GetProperty("get").GetProperty("tags")[0].GetString());
        Assert.Equal("Clients", document.GetProperty("paths").GetProperty("/api/v5/clients").GetProperty("get").GetProperty("tags")[0].GetString());
        var changePassword = document.GetProperty("paths").GetProperty("/api/v5/users/{username}/change_pwd");
        Assert.Equal("Dashboard users", changePassword.GetProperty("post").GetProperty("tags")[0].GetString());

        // Errors are problem details, for every operation.
        var responses = document.GetProperty("paths").GetProperty("/api/v5/clients").GetProperty("get").GetProperty("responses");
        foreach (var status in new[] { "400", "401", "404" })
        {
            Assert.True(responses.GetProperty(status).GetProperty("content").TryGetProperty("application/problem+json", out _), $"{status}: {responses}");
        }
    }

    [Fact]
    public async Task The_document_and_the_reference_page_need_authentication()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        AssertError(await GetAsync(anonymous, "api/v5/openapi.json"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
        using (var refused = await anonymous.GetAsync("api/v5/docs"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // The page redirects /api/v5/docs to /api/v5/docs/; HttpClient drops the credentials on a redirect, a browser does not.
        using var page = await dashboard.Http.GetAsync("api/v5/docs/");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.True(html.Contains("openapi.json", StringComparison.Ordinal), html);
        Assert.Equal(JsonValueKind.Object, (await GetOkAsync(dashboard.Http, "api/v5/openapi.json")).ValueKind);
    }
}
