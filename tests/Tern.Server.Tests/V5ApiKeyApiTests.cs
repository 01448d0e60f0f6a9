using System.Net;
using System.Text.Json;
using Tern.Server.Security;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>/api/v5/api_key</c>: keys created, used as HTTP Basic <c>key:secret</c>, disabled, expired, deleted.</summary>
public sealed class V5ApiKeyApiTests
{
    [Fact]
    public async Task A_created_key_opens_the_api_until_disabled_or_deleted_and_its_secret_is_shown_once()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();

        var (status, created) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "deploy-script", "desc": "CI", "expired_at": "infinity"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var key = created!.Value.GetProperty("api_key").GetString()!;
        var secret = created.Value.GetProperty("api_secret").GetString()!;
        Assert.Equal("deploy-script", created.Value.GetProperty("name").GetString());
        Assert.Equal("infinity", created.Value.GetProperty("expired_at").GetString());
        Assert.True(created.Value.GetProperty("enable").GetBoolean());
        using var script = dashboard.CreateClient(key, secret);
        Assert.Equal(JsonValueKind.Array, (await GetOkAsync(script, "api/v5/clients")).GetProperty("data").ValueKind);
        var listed = Assert.Single((await GetOkAsync(dashboard.Http, "api/v5/api_key")).EnumerateArray());
        Assert.Equal(key, listed.GetProperty("api_key").GetString());
        Assert.False(listed.TryGetProperty("api_secret", out _));
        Assert.DoesNotContain(secret, await File.ReadAllTextAsync(Path.Combine(files.Directory, "api_keys.json")), StringComparison.Ordinal);
        using (var wrong = dashboard.CreateClient(key, secret + "x"))
        {
            AssertError(await GetAsync(wrong, "api/v5/clients"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "API key");
        }

        var (disabled, shown) = await SendAsync(dashboard.Http, HttpMethod.Put, "api/v5/api_key/deploy-script", """{"enable": false}""");
        Assert.Equal(HttpStatusCode.OK, disabled);
        Assert.False(shown!.Value.GetProperty("enable").GetBoolean());
        Assert.Equal("CI", shown.Value.GetProperty("desc").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(script, "api/v5/clients")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(dashboard.Http, HttpMethod.Put, "api/v5/api_key/deploy-script", """{"enable": true}""")).Status);
        await GetOkAsync(script, "api/v5/stats");

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/api_key/deploy-script")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(script, "api/v5/clients")).Status);
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/api_key/deploy-script"), HttpStatusCode.NotFound, "NOT_FOUND", "deploy-script");
        AssertError(await GetAsync(dashboard.Http, "api/v5/api_key/deploy-script"), HttpStatusCode.NotFound, "NOT_FOUND", "deploy-script");
    }

    [Fact]
    public async Task Bad_bodies_name_the_field_and_the_api_key_endpoints_need_authentication()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"desc": "no name"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "name");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "1bad name"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "name");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "k", "expired_at": "2001-01-01T00:00:00Z"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "expired_at");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "k", "enable": "yes"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "enable");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "k"}""")).Status);
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "k"}"""), HttpStatusCode.BadRequest, "ALREADY_EXISTS", "name");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Put, "api/v5/api_key/nope", """{"enable": false}"""), HttpStatusCode.NotFound, "NOT_FOUND", "nope");
        using var anonymous = dashboard.CreateClient(null, null);
        AssertError(await GetAsync(anonymous, "api/v5/api_key"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "API key");
        AssertError(await SendAsync(anonymous, HttpMethod.Post, "api/v5/api_key", """{"name": "sneaky"}"""), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "API key");
    }

    [Fact]
    public async Task An_expired_key_in_the_file_is_refused_and_a_created_key_survives_a_restart()
    {
        using var files = new V5ManagementBroker();
        var hash = UsersPasswordHash.Hash("old-secret", UsersPasswordHash.MinIterations);
        await File.WriteAllTextAsync(Path.Combine(files.Directory, "api_keys.json"), $$"""
            { "api_keys": [ { "name": "old", "api_key": "0123456789abcdef", "hash": "{{hash}}", "expired_at": "2020-01-01T00:00:00.000+00:00",
              "desc": "", "enable": true, "created_at": "2019-01-01T00:00:00.000+00:00" } ] }
            """);
        string key, secret;
        await using (var first = await files.StartAsync())
        {
            using var expired = first.CreateClient("0123456789abcdef", "old-secret");
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(expired, "api/v5/clients")).Status);
            var old = await GetOkAsync(first.Http, "api/v5/api_key/old");
            Assert.True(old.GetProperty("expired").GetBoolean());
            var (_, created) = await SendAsync(first.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "kept", "expired_at": "2099-01-01T00:00:00Z"}""");
            key = created!.Value.GetProperty("api_key").GetString()!;
            secret = created.Value.GetProperty("api_secret").GetString()!;
        }

        await using var second = await files.StartAsync();
        using var script = second.CreateClient(key, secret);
        await GetOkAsync(script, "api/v5/nodes");
        Assert.Equal("2099-01-01T00:00:00.000+00:00", (await GetOkAsync(second.Http, "api/v5/api_key/kept")).GetProperty("expired_at").GetString());
    }
}
