using System.Net;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>Errors of every API path as RFC 9457 problem details, and the retired <c>/api/v1</c>.</summary>
public sealed class ApiProblemTests
{
    [Theory]
    [InlineData("api/v1/stats")]
    [InlineData("api/v1/clients")]
    [InlineData("api/v5/no-such-endpoint")]
    public async Task An_unknown_api_path_is_a_404_problem_pointing_at_api_v5(string path)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var response = await GetAsync(dashboard.Http, path);

        AssertError(response, HttpStatusCode.NotFound, "NOT_FOUND", "/api/v5");
        Assert.Equal("Not Found", response.Body!.Value.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("POST", "api/v5/authorization/sources/built_in_database/rules/users", """{"username": "a"}""", "body")]
    [InlineData("POST", "api/v5/authorization/sources/built_in_database/rules/users", "[5]", "[0]")]
    [InlineData("POST", "api/v5/authorization/sources/built_in_database/rules/users", """[{"username": "a", "rules": [{"topic": "t", "permission": "maybe", "action": "publish"}]}]""", "[0].rules[0].permission")]
    [InlineData("POST", "api/v5/banned", """{"as": "clientid"}""", "who")]
    [InlineData("POST", "api/v5/trace", """{"name": "t", "type": "ip_address"}""", "type")]
    [InlineData("POST", "api/v5/api_key", """{"name": "bad name"}""", "name")]
    [InlineData("POST", "api/v5/publish", """{"topic": "a", "payload": "x", "qos": 1, "properties": {"user_properties": {"k": 1}}}""", "properties.user_properties.k")]
    [InlineData("GET", "api/v5/stats?aggregate=maybe", null, "aggregate")]
    [InlineData("GET", "api/v5/subscriptions?qos=5", null, "qos")]
    [InlineData("GET", "api/v5/clients?proto_ver=6", null, "proto_ver")]
    public async Task Every_400_names_its_field_in_the_field_member_and_the_message(string method, string path, string? json, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var response = await SendAsync(dashboard.Http, new HttpMethod(method), path, json);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        AssertProblem(response.Body!.Value, HttpStatusCode.BadRequest, response.Body!.Value.GetProperty("code").GetString()!);
        Assert.Equal(field, response.Body!.Value.GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("""{"password": "public"}""", "username")]
    [InlineData("""{"username": "admin", "password": 5}""", "password")]
    [InlineData("""{"username": """, "body")]
    public async Task A_bad_login_form_body_is_a_400_problem_naming_the_field(string json, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        var response = await SendAsync(anonymous, HttpMethod.Post, "api/dashboard/login", json);

        AssertError(response, HttpStatusCode.BadRequest, "BAD_REQUEST", field);
        Assert.Equal(field, response.Body!.Value.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_refused_login_is_a_401_problem_with_emqx_code()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        var response = await SendAsync(anonymous, HttpMethod.Post, "api/dashboard/login", """{"username": "admin", "password": "wrong"}""");

        AssertError(response, HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Wrong user name or password");
        Assert.False(response.Body!.Value.TryGetProperty("field", out _), "only a 400 names a field");
    }
}
