using PuppeteerSharp;

namespace Tern.Server.Tests;

/// <summary>
/// The reference page <c>/api/v5/docs</c> in a real headless Chromium: it loads the OpenAPI document
/// and shows the operations (its 401 without credentials is in <see cref="V5OpenApiTests"/>).
/// </summary>
public sealed class V5DocsPageTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task With_the_credentials_the_reference_page_shows_the_api_from_the_generated_document()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var context = await chromium.Browser.CreateBrowserContextAsync();
        await using var page = await context.NewPageAsync();
        // What a browser's Basic prompt does: the credentials go with every request of the page, the document's included.
        await page.AuthenticateAsync(new Credentials { Username = "admin", Password = "public" });
        var shown = await page.GoToAsync(new Uri(dashboard.BaseUri, "api/v5/docs").ToString(), WaitUntilNavigation.Load);

        Assert.True(shown.Ok, $"GET /api/v5/docs answered {shown.Status}");
        await page.WaitForFunctionAsync(
            "() => ['API keys', 'ACL rules', 'Monitoring', 'Users'].every(tag => document.body.innerText.includes(tag))",
            new WaitForFunctionOptions { Timeout = 30_000 });
        Assert.Contains("Tern REST API", await page.GetTitleAsync(), StringComparison.Ordinal);
    }
}
