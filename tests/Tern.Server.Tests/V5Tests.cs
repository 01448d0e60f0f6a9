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

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
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

    /// <summary>Requires EMQX's error document: this status, this <c>code</c>, and a message naming <paramref name="field"/>.</summary>
    public static void AssertError((HttpStatusCode Status, JsonElement? Body) response, HttpStatusCode status, string code, string field)
    {
        Assert.True(response.Status == status, $"expected {(int)status} {code}, got {(int)response.Status}: {response.Body}");
        var body = response.Body!.Value;
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.Contains(field, body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    /// <summary>The <c>clientid</c> of every item of a page's <c>data</c>, in order.</summary>
    public static string[] ClientIds(JsonElement page)
        => [.. page.GetProperty("data").EnumerateArray().Select(static c => c.GetProperty("clientid").GetString()!)];
}
