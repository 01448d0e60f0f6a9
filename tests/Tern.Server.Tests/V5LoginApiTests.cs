using System.Net;
using System.Net.Http.Headers;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary><c>POST /api/v5/login</c> and the bearer token EMQX's scripts send afterwards.</summary>
public sealed class V5LoginApiTests
{
    [Fact]
    public async Task Login_gives_a_token_that_authorizes_as_bearer()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Dashboard:Password"] = "s3cret-pass" });
        using var anonymous = dashboard.CreateClient(null, null);

        var (status, body) = await SendAsync(anonymous, HttpMethod.Post, "api/v5/login", """{"username": "admin", "password": "s3cret-pass"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var token = body!.Value.GetProperty("token").GetString();
        Assert.False(string.IsNullOrEmpty(token));
        Assert.Equal(TernServer.Version, body.Value.GetProperty("version").GetString());
        using var bearer = dashboard.CreateClient(null, null);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var clients = await GetOkAsync(bearer, "api/v5/clients");
        Assert.Equal(0, clients.GetProperty("meta").GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Login_with_a_wrong_password_is_401_and_an_unknown_token_too()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);
        using var bearer = dashboard.CreateClient(null, null);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "made-up-token");

        var refused = await SendAsync(anonymous, HttpMethod.Post, "api/v5/login", """{"username": "admin", "password": "guess"}""");

        AssertError(refused, HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "password");
        AssertError(await GetAsync(bearer, "api/v5/clients"), HttpStatusCode.Unauthorized, "BAD_TOKEN", "POST /api/v5/login");
    }

    [Theory]
    [InlineData("""{"password": "public"}""", "username")]
    [InlineData("""{"username": "admin"}""", "password")]
    [InlineData("""{"username": "admin", "password": 7}""", "password")]
    [InlineData("""["admin", "public"]""", "JSON object")]
    public async Task Login_with_a_bad_body_is_400_naming_the_field(string body, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        AssertError(await SendAsync(anonymous, HttpMethod.Post, "api/v5/login", body), HttpStatusCode.BadRequest, "BAD_REQUEST", field);
    }

    [Fact]
    public async Task Only_post_login_answers_without_credentials()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        AssertError(await GetAsync(anonymous, "api/v5/login"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
    }
}
