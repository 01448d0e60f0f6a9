using System.Net;
using System.Text;
using System.Text.Json;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>
/// Checks that hold for every operation of <c>/api/v5</c>, taken from the generated OpenAPI document so
/// that an endpoint added later is checked too: authentication required, a body that is not JSON refused
/// with a 400 that says so, and an item that does not exist answered with a 404.
/// </summary>
public sealed class V5EveryEndpointTests
{
    // The one operation open without credentials: it is how a script gets a token.
    private static readonly HashSet<string> Open = new(StringComparer.Ordinal) { "POST /api/v5/login" };

    [Fact]
    public async Task Every_operation_but_login_requires_authentication()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);
        using var wrong = dashboard.CreateClient("admin", "not-the-password");

        var operations = await OperationsAsync(dashboard);
        Assert.True(operations.Count > 30, $"only {operations.Count} operations in the document");
        foreach (var (method, path) in operations)
        {
            if (Open.Contains($"{method} {path}"))
            {
                continue;
            }

            var url = Fill(path, "absent-item").TrimStart('/');
            var json = method == HttpMethod.Post || method == HttpMethod.Put ? "{}" : null;
            foreach (var client in new[] { anonymous, wrong })
            {
                var response = await SendAsync(client, method, url, json);
                Assert.True(response.Status == HttpStatusCode.Unauthorized, $"{method} {path} without valid credentials answered {(int)response.Status}: {response.Body}");
                Assert.Equal("BAD_USERNAME_OR_PWD", response.Body!.Value.GetProperty("code").GetString());
            }
        }
    }

    [Fact]
    public async Task Every_operation_that_takes_a_body_refuses_one_that_is_not_json_with_a_400()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var checkedCount = 0;
        foreach (var (method, path) in await OperationsAsync(dashboard))
        {
            if (method != HttpMethod.Post && method != HttpMethod.Put)
            {
                continue;
            }

            using var request = new HttpRequestMessage(method, Fill(path, "absent-item").TrimStart('/'))
            {
                Content = new StringContent("{\"broken\": ", Encoding.UTF8, "application/json"),
            };
            using var response = await dashboard.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();

            // A PUT on an item that does not exist may say so first; everything else must name the bad body.
            if (method == HttpMethod.Put && response.StatusCode == HttpStatusCode.NotFound)
            {
                continue;
            }

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path} with a broken body answered {(int)response.StatusCode}: {text}");
            var message = JsonDocument.Parse(text).RootElement.GetProperty("message").GetString()!;
            Assert.True(message.Contains("JSON", StringComparison.OrdinalIgnoreCase), $"{method} {path}: '{message}' does not say the body is not JSON");
            checkedCount++;
        }

        Assert.True(checkedCount > 10, $"only {checkedCount} operations take a body");
    }

    [Fact]
    public async Task Every_get_or_delete_of_an_item_that_does_not_exist_answers_404()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var checkedCount = 0;
        foreach (var (method, path) in await OperationsAsync(dashboard))
        {
            if ((method != HttpMethod.Get && method != HttpMethod.Delete) || !path.Contains('{', StringComparison.Ordinal)
                || path.EndsWith("/log", StringComparison.Ordinal) && method == HttpMethod.Delete)
            {
                continue;
            }

            var response = await SendAsync(dashboard.Http, method, Fill(path, "absent-item").TrimStart('/'));
            Assert.True(response.Status == HttpStatusCode.NotFound, $"{method} {path} of an absent item answered {(int)response.Status}: {response.Body}");
            var body = response.Body!.Value;
            Assert.False(string.IsNullOrEmpty(body.GetProperty("code").GetString()));
            Assert.Contains("absent-item", body.GetProperty("message").GetString(), StringComparison.Ordinal);
            checkedCount++;
        }

        Assert.True(checkedCount > 8, $"only {checkedCount} operations address one item");
    }

    /// <summary>Each operation of the document as (method, path template).</summary>
    private static async Task<List<(HttpMethod Method, string Path)>> OperationsAsync(DashboardBroker dashboard)
    {
        var document = await GetOkAsync(dashboard.Http, "api/v5/openapi.json");
        var operations = new List<(HttpMethod, string)>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Name is "get" or "post" or "put" or "delete")
                {
                    operations.Add((new HttpMethod(operation.Name.ToUpperInvariant()), path.Name));
                }
            }
        }

        return operations;
    }

    /// <summary>The path with each <c>{parameter}</c> filled: a kind of ban where one is expected, else <paramref name="item"/>.</summary>
    private static string Fill(string template, string item)
    {
        var builder = new StringBuilder();
        var at = 0;
        while (template.IndexOf('{', at) is var open and >= 0)
        {
            var close = template.IndexOf('}', open);
            var name = template[(open + 1)..close];
            builder.Append(template, at, open - at).Append(name == "as" ? "clientid" : item);
            at = close + 1;
        }

        return builder.Append(template, at, template.Length - at).ToString();
    }
}
