using System.Net;
using System.Net.Http.Json;
using Tern.Server.Dashboard;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>POST /api/v5/users/{username}/change_pwd</c>: the dashboard password changed at runtime, at once and for good.</summary>
public sealed class V5DashboardPasswordApiTests
{
    private const string NewPassword = "harbour-42-light";

    [Fact]
    public async Task A_changed_password_replaces_the_old_one_at_once_ends_tokens_and_survives_a_restart()
    {
        using var files = new V5ManagementBroker();
        var passwordFile = Path.Combine(files.Directory, "dashboard_password.json");
        await using (var first = await files.StartAsync())
        {
            Assert.True(await DefaultPasswordAsync(first.BaseUri, "public"));
            var (_, login) = await SendAsync(first.Http, HttpMethod.Post, "api/v5/login", """{"username": "admin", "password": "public"}""");
            using var bearer = new HttpClient { BaseAddress = first.BaseUri };
            bearer.DefaultRequestHeaders.Authorization = new("Bearer", login!.Value.GetProperty("token").GetString());
            await GetOkAsync(bearer, "api/v5/nodes");
            var (created, key) = await SendAsync(first.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "script"}""");
            Assert.Equal(HttpStatusCode.OK, created);
            using var script = first.CreateClient(key!.Value.GetProperty("api_key").GetString(), key.Value.GetProperty("api_secret").GetString());

            var (status, _) = await SendAsync(first.Http, HttpMethod.Post, "api/v5/users/admin/change_pwd", $$"""{"old_pwd": "public", "new_pwd": "{{NewPassword}}"}""");

            Assert.Equal(HttpStatusCode.NoContent, status);
            AssertError(await GetAsync(first.Http, "api/v5/nodes"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Basic");
            AssertError(await GetAsync(bearer, "api/v5/nodes"), HttpStatusCode.Unauthorized, "BAD_TOKEN", "token");
            AssertError(
                await SendAsync(first.Http, HttpMethod.Post, "api/v5/login", """{"username": "admin", "password": "public"}"""),
                HttpStatusCode.Unauthorized,
                "BAD_USERNAME_OR_PWD",
                "password");
            using var changed = first.CreateClient("admin", NewPassword);
            await GetOkAsync(changed, "api/v5/nodes");
            Assert.False(await DefaultPasswordAsync(first.BaseUri, NewPassword));
            await GetOkAsync(script, "api/v5/nodes");
            var stored = await File.ReadAllTextAsync(passwordFile);
            Assert.Contains("$pbkdf2-sha256$", stored, StringComparison.Ordinal);
            Assert.DoesNotContain(NewPassword, stored, StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(passwordFile));
            }

            Assert.Contains(first.Log.Lines, l => l.Contains("Dashboard password of admin changed", StringComparison.Ordinal));
        }

        await using var second = await files.StartAsync();
        using var again = second.CreateClient("admin", NewPassword);
        await GetOkAsync(again, "api/v5/nodes");
        Assert.False(await DefaultPasswordAsync(second.BaseUri, NewPassword));
        var (loggedIn, _) = await SendAsync(second.Http, HttpMethod.Post, "api/v5/login", $$"""{"username": "admin", "password": "{{NewPassword}}"}""");
        Assert.Equal(HttpStatusCode.OK, loggedIn);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(second.Http, "api/v5/nodes")).Status);
        Assert.DoesNotContain(second.Log.Lines, l => l.Contains("default password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_old_password_or_a_weak_new_one_is_a_400_naming_the_field_and_changes_nothing()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        const string Path = "api/v5/users/admin/change_pwd";

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "wrong", "new_pwd": "harbour-42-light"}"""), HttpStatusCode.BadRequest, "ERROR_PWD_NOT_MATCH", "old_pwd");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"new_pwd": "harbour-42-light"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "old_pwd");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "public", "new_pwd": ""}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "new_pwd");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "public", "new_pwd": "short1"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "new_pwd");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "public", "new_pwd": "onlylettershere"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "new_pwd");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "public", "new_pwd": "harbour-42-light", "role": "x"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "role");
        AssertError(
            await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/users/root/change_pwd", """{"old_pwd": "public", "new_pwd": "harbour-42-light"}"""),
            HttpStatusCode.NotFound,
            "USER_NOT_FOUND",
            "root");

        await GetOkAsync(dashboard.Http, "api/v5/nodes");
        Assert.False(File.Exists(System.IO.Path.Combine(files.Directory, "dashboard_password.json")));
        Assert.True(await DefaultPasswordAsync(dashboard.BaseUri, "public"));
    }

    [Fact]
    public async Task Wrong_old_passwords_count_against_the_address_as_failed_logins_do()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        const string Path = "api/v5/users/admin/change_pwd";
        for (var i = 0; i < DashboardSessionLimiter.MaxFailures; i++)
        {
            AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, $$"""{"old_pwd": "guess-{{i}}", "new_pwd": "harbour-42-light"}"""), HttpStatusCode.BadRequest, "ERROR_PWD_NOT_MATCH", "old_pwd");
        }

        // Now even the right old password is refused before it is looked at, and so is a login from the address.
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Path, """{"old_pwd": "public", "new_pwd": "harbour-42-light"}"""), HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS", "Too many failed logins");
        Assert.False(File.Exists(System.IO.Path.Combine(files.Directory, "dashboard_password.json")));
        using var client = dashboard.CreateClient(null, null);
        using var login = await client.PostAsJsonAsync("api/v5/login", new { username = "admin", password = "public" });
        Assert.Equal(HttpStatusCode.TooManyRequests, login.StatusCode);
    }

    [Fact]
    public async Task A_stored_password_of_another_user_is_ignored_with_a_warning_and_a_malformed_file_stops_the_start()
    {
        using var files = new V5ManagementBroker();
        var passwordFile = Path.Combine(files.Directory, "dashboard_password.json");
        var hash = Tern.Server.Security.UsersPasswordHash.Hash(NewPassword, Tern.Server.Security.UsersPasswordHash.MinIterations);
        await File.WriteAllTextAsync(passwordFile, $$"""{ "username": "root", "hash": "{{hash}}" }""");
        await using (var dashboard = await files.StartAsync())
        {
            await GetOkAsync(dashboard.Http, "api/v5/nodes");
            using var stored = dashboard.CreateClient("admin", NewPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(stored, "api/v5/nodes")).Status);
            await dashboard.Log.WaitForAsync("holds a dashboard password for user root, not for admin");
        }

        await File.WriteAllTextAsync(passwordFile, """{ "username": "admin", "hash": "plain-text" }""");
        var ex = await Assert.ThrowsAsync<TernConfigurationException>(files.StartAsync);
        Assert.Contains(passwordFile, ex.Message, StringComparison.Ordinal);
        Assert.Contains("hash", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>What the dashboard shows its default-password banner by: the login answer's <c>defaultPassword</c>.</summary>
    private static async Task<bool> DefaultPasswordAsync(Uri baseUri, string password)
    {
        using var http = new HttpClient { BaseAddress = baseUri };
        var (status, body) = await SendAsync(http, HttpMethod.Post, "api/dashboard/login", $$"""{"username": "admin", "password": "{{password}}"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return body!.Value.GetProperty("defaultPassword").GetBoolean();
    }
}
