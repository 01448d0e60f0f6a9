using System.Net;
using System.Text;
using System.Text.Json;

namespace Tern.Server.Tests;

/// <summary>Requests to <c>/api/v5</c> and checks of EMQX's error shape, shared by the V5 test classes.</summary>
internal static class V5Tests
{
    /// <summary>Sends a request (a JSON body when given) and returns the status and the parsed body (null when empty).</summary>
    public static async Task<(HttpStatusCode Status, JsonElement? Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0)
        {
            return (response.StatusCode, null);
        }

        // Errors are RFC 9457 problem details; everything else is plain JSON.
        Assert.Equal(response.IsSuccessStatusCode ? "application/json" : "application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public static Task<(HttpStatusCode Status, JsonElement? Body)> GetAsync(HttpClient http, string path) => SendAsync(http, HttpMethod.Get, path);

    /// <summary>GETs and requires 200.</summary>
    public static async Task<JsonElement> GetOkAsync(HttpClient http, string path)
    {
        var (status, body) = await GetAsync(http, path);
        Assert.True(status == HttpStatusCode.OK, $"GET {path} answered {(int)status}: {body}");
        return body!.Value;
    }

    /// <summary>
    /// Requires the error document: problem details (RFC 9457) with this status, EMQX's <c>code</c>,
    /// and a message containing <paramref name="text"/>; a 400 also names its <c>field</c>, in the message too.
    /// </summary>
    public static void AssertError((HttpStatusCode Status, JsonElement? Body) response, HttpStatusCode status, string code, string text)
    {
        Assert.True(response.Status == status, $"expected {(int)status} {code}, got {(int)response.Status}: {response.Body}");
        var body = response.Body!.Value;
        AssertProblem(body, status, code);
        Assert.Contains(text, body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Requires RFC 9457's members, EMQX's <c>code</c> and <c>message</c>, and on a 400 the refused <c>field</c> named in the message.</summary>
    public static void AssertProblem(JsonElement body, HttpStatusCode status, string code)
    {
        var message = body.GetProperty("message").GetString();
        Assert.Equal("about:blank", body.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.Equal(message, body.GetProperty("detail").GetString());
        Assert.Equal(code, body.GetProperty("code").GetString());
        if (status == HttpStatusCode.BadRequest)
        {
            var field = body.GetProperty("field").GetString();
            Assert.False(string.IsNullOrEmpty(field), $"a 400 names its field: {body}");
            Assert.Contains(field!, message, StringComparison.Ordinal);
        }
    }

    /// <summary>The <c>clientid</c> of every item of a page's <c>data</c>, in order.</summary>
    public static string[] ClientIds(JsonElement page)
        => [.. page.GetProperty("data").EnumerateArray().Select(static c => c.GetProperty("clientid").GetString()!)];
}
