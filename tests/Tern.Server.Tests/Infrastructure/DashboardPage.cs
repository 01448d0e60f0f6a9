using System.Collections.Concurrent;
using PuppeteerSharp;

namespace Tern.Server.Tests;

/// <summary>
/// The dashboard in its own browser context (own sessionStorage). Collects script errors and
/// Content-Security-Policy violations, which <see cref="AssertNoScriptErrors"/> turns into a failure.
/// </summary>
public sealed class DashboardPage : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly IBrowserContext _context;
    private readonly ConcurrentQueue<string> _errors = new();

    private DashboardPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.DefaultTimeout = (int)Timeout.TotalMilliseconds;
        page.PageError += (_, e) => _errors.Enqueue("page error: " + e.Message);
        page.Console += (_, e) =>
        {
            // A refused login shows up as "Failed to load resource: ... 401"; that one is expected.
            if (e.Message.Type == ConsoleType.Error && !e.Message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                _errors.Enqueue("console error: " + e.Message.Text);
            }
        };

        // The kick and discard buttons ask for confirmation.
        page.Dialog += async (_, e) => await e.Dialog.Accept();
    }

    public IPage Page { get; }

    public static async Task<DashboardPage> OpenAsync(IBrowser browser, DashboardBroker dashboard)
    {
        var context = await browser.CreateBrowserContextAsync();
        var page = await context.NewPageAsync();
        var result = new DashboardPage(context, page);
        var response = await page.GoToAsync(dashboard.BaseUri.ToString(), WaitUntilNavigation.Load);
        Assert.True(response.Ok, $"GET {dashboard.BaseUri} answered {response.Status}");
        return result;
    }

    /// <summary>Fills and submits the login form.</summary>
    public async Task LogInAsync(string username, string password)
    {
        await Page.WaitForSelectorAsync("#login-form", new WaitForSelectorOptions { Visible = true });
        await Page.EvaluateFunctionAsync("() => { document.getElementById('login-username').value = ''; }");
        await Page.TypeAsync("#login-username", username);
        await Page.TypeAsync("#login-password", password);
        await Page.ClickAsync("#login-submit");
    }

    /// <summary>Logs in and waits for the application to show.</summary>
    public async Task LogInAndWaitAsync(string username = "admin", string password = "public")
    {
        await LogInAsync(username, password);
        await Page.WaitForSelectorAsync("#app", new WaitForSelectorOptions { Visible = true });
    }

    /// <summary>Opens a view from the side navigation.</summary>
    public async Task GoToAsync(string view)
    {
        await Page.ClickAsync($".nav a[data-view='{view}']");
        await Page.WaitForSelectorAsync($"#view-{view}", new WaitForSelectorOptions { Visible = true });
    }

    /// <summary>Waits until the element's text is <paramref name="expected"/>; fails with what it showed instead.</summary>
    public async Task WaitForTextAsync(string selector, string expected)
    {
        try
        {
            await Page.WaitForFunctionAsync(
                "(selector, expected) => document.querySelector(selector)?.textContent.trim() === expected",
                new WaitForFunctionOptions { Timeout = (int)Timeout.TotalMilliseconds },
                selector,
                expected);
        }
        catch (WaitTaskTimeoutException)
        {
            var actual = await Page.EvaluateFunctionAsync<string?>("s => document.querySelector(s)?.textContent", selector);
            Assert.Fail($"{selector} shows '{actual}', expected '{expected}' within {Timeout.TotalSeconds} s");
        }
    }

    /// <summary>The element's text, trimmed; null when there is no such element.</summary>
    public Task<string?> TextAsync(string selector)
        => Page.EvaluateFunctionAsync<string?>("s => document.querySelector(s)?.textContent.trim() ?? null", selector);

    /// <summary>The trimmed texts of every element the selector matches, in document order.</summary>
    public Task<string[]> TextsAsync(string selector)
        => Page.EvaluateFunctionAsync<string[]>("s => [...document.querySelectorAll(s)].map(e => e.textContent.trim())", selector);

    /// <summary>Whether the element is shown (not hidden by the <c>hidden</c> attribute or CSS).</summary>
    public Task<bool> IsVisibleAsync(string selector)
        => Page.EvaluateFunctionAsync<bool>("s => { const e = document.querySelector(s); return !!e && e.offsetParent !== null; }", selector);

    public void AssertNoScriptErrors() => Assert.Empty(_errors);

    public async ValueTask DisposeAsync()
    {
        // TERN_TEST_SCREENSHOTS=dir keeps the last state of each page, for a person to look at.
        if (Environment.GetEnvironmentVariable("TERN_TEST_SCREENSHOTS") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            await Page.ScreenshotAsync(Path.Combine(dir, $"dashboard-{DateTime.UtcNow:HHmmss.fff}.png"), new ScreenshotOptions { FullPage = true });
        }

        await _context.CloseAsync();
    }
}
