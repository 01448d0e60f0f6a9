using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using PuppeteerSharp;
using Tern.Server.Dashboard;

namespace Tern.Server.Tests;

/// <summary>The dashboard's login form: a cookie session, CSRF protection, a per-address limit, logout.</summary>
public sealed class DashboardLoginTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task The_login_sets_an_httponly_strict_expiring_cookie_that_a_reload_keeps()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);

        await page.LogInAndWaitAsync();

        var cookies = await page.Page.GetCookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == DashboardSessions.SessionCookie);
        Assert.True(session.HttpOnly, "the session cookie is HttpOnly");
        Assert.Equal(SameSite.Strict, session.SameSite);
        Assert.False(session.Secure, "no Secure flag over plain HTTP, or the browser would not send it back");
        var expires = DateTimeOffset.FromUnixTimeMilliseconds((long)(session.Expires!.Value * 1000));
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddHours(7), DateTimeOffset.UtcNow.AddHours(9));

        // Scripts of the page see the CSRF token, never the session id.
        var visible = await page.Page.EvaluateExpressionAsync<string>("document.cookie");
        Assert.DoesNotContain(DashboardSessions.SessionCookie + "=", visible, StringComparison.Ordinal);
        Assert.Contains(DashboardSessions.CsrfCookie + "=", visible, StringComparison.Ordinal);

        await page.Page.ReloadAsync();
        await page.Page.WaitForSelectorAsync("#app", new WaitForSelectorOptions { Visible = true });
        await page.WaitForTextAsync("#stat-connections", "0");
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Logout_shows_the_form_and_the_old_cookie_opens_nothing_any_more()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        var cookie = (await page.Page.GetCookiesAsync()).Single(c => c.Name == DashboardSessions.SessionCookie).Value;
        using (var before = dashboard.CreateClient(null, null))
        {
            using var request = WithCookie(HttpMethod.Get, "api/v5/stats", cookie);
            using var ok = await before.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        await page.Page.ClickAsync("#logout");

        await page.Page.WaitForSelectorAsync("#login-form", new WaitForSelectorOptions { Visible = true });
        Assert.False(await page.IsVisibleAsync("#app"));
        using var client = dashboard.CreateClient(null, null);
        using var after = WithCookie(HttpMethod.Get, "api/v5/stats", cookie);
        using var refused = await client.SendAsync(after);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        // A reload stays on the form: the browser's cookie was cleared too.
        await page.Page.ReloadAsync();
        await page.Page.WaitForSelectorAsync("#login-form", new WaitForSelectorOptions { Visible = true });
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Five_wrong_passwords_in_a_minute_lock_the_address_out_with_429_and_retry_after()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);

        for (var i = 0; i < DashboardSessionLimiter.MaxFailures; i++)
        {
            await page.Page.EvaluateExpressionAsync("document.getElementById('login-error').textContent = ''");
            await page.LogInAsync("admin", "guess-" + i);
            await page.WaitForTextAsync("#login-error", "Wrong user name or password.");
        }

        // Now even the right password is refused, in the form and through the API.
        await page.LogInAsync("admin", "public");
        await page.Page.WaitForFunctionAsync("() => document.getElementById('login-error').textContent.startsWith('Too many failed logins')");
        Assert.False(await page.IsVisibleAsync("#app"));

        using var client = dashboard.CreateClient(null, null);
        using var response = await client.PostAsJsonAsync("api/dashboard/login", new { username = "admin", password = "public" });
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), DashboardSessionLimiter.Window);
        using var v5 = await client.PostAsJsonAsync("api/v5/login", new { username = "admin", password = "public" });
        Assert.Equal(HttpStatusCode.TooManyRequests, v5.StatusCode);
        Assert.Equal("TOO_MANY_REQUESTS", (await v5.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Contains(dashboard.Log.Lines, m => m.Contains("refused for", StringComparison.Ordinal) && m.Contains("too many failures", StringComparison.Ordinal));

        // Scripts with Basic credentials are not locked out by someone guessing at the form.
        using var stats = await dashboard.Http.GetAsync("api/v5/stats");
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_change_with_the_cookie_needs_the_csrf_header_and_basic_needs_none()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("csrf-target");
        using var client = dashboard.CreateClient(null, null);
        using var login = await client.PostAsJsonAsync("api/dashboard/login", new { username = "admin", password = "public" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var csrf = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrfToken").GetString();
        var cookie = login.Headers.GetValues("Set-Cookie")
            .Select(c => c.Split(';')[0])
            .Single(c => c.StartsWith(DashboardSessions.SessionCookie + "=", StringComparison.Ordinal))[(DashboardSessions.SessionCookie.Length + 1)..];

        using (var forged = WithCookie(HttpMethod.Delete, "api/v5/clients/csrf-target", cookie))
        {
            using var refused = await client.SendAsync(forged);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("X-CSRF-Token", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.NotNull(dashboard.Broker.Server.Broker.FindClient("csrf-target"));
        using (var wrong = WithCookie(HttpMethod.Delete, "api/v5/clients/csrf-target", cookie))
        {
            wrong.Headers.Add(DashboardSessions.CsrfHeader, "not-the-token");
            using var refused = await client.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var real = WithCookie(HttpMethod.Delete, "api/v5/clients/csrf-target", cookie))
        {
            real.Headers.Add(DashboardSessions.CsrfHeader, csrf);
            using var kicked = await client.SendAsync(real);
            Assert.Equal(HttpStatusCode.NoContent, kicked.StatusCode);
        }

        // A script with Basic credentials changes things without any token.
        using var publish = await dashboard.PublishAsync(new { topic = "csrf/basic", payload = "x" });
        Assert.Equal(HttpStatusCode.Accepted, publish.StatusCode);
    }

    [Fact]
    public void The_limit_forgets_failures_older_than_the_window()
    {
        var clock = new ManualClock();
        var limiter = new DashboardSessionLimiter(clock);
        var address = IPAddress.Parse("192.0.2.7");
        var other = IPAddress.Parse("192.0.2.8");
        for (var i = 0; i < DashboardSessionLimiter.MaxFailures; i++)
        {
            Assert.False(limiter.IsLimited(address, out _));
            limiter.RecordFailure(address);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.True(limiter.IsLimited(address, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(10), wait);
        Assert.False(limiter.IsLimited(other, out _));
        Assert.Equal(1, limiter.Refused);

        // The first failure leaves the window: one more try, and a failure locks again.
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.False(limiter.IsLimited(address, out _));
        limiter.RecordFailure(address);
        Assert.True(limiter.IsLimited(address, out _));
    }

    [Fact]
    public void A_session_ends_after_its_lifetime_and_its_cookies_are_secure_over_https()
    {
        var clock = new ManualClock();
        var sessions = new DashboardSessions(clock);
        var login = new DefaultHttpContext();
        login.Request.IsHttps = true;

        var session = sessions.Open(login, "admin");

        var cookies = login.Response.Headers.SetCookie.ToArray();
        var sessionCookie = Assert.Single(cookies, c => c!.StartsWith(DashboardSessions.SessionCookie + "=", StringComparison.Ordinal))!;
        Assert.Contains("secure", sessionCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", sessionCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", sessionCookie, StringComparison.OrdinalIgnoreCase);
        var csrfCookie = Assert.Single(cookies, c => c!.StartsWith(DashboardSessions.CsrfCookie + "=", StringComparison.Ordinal))!;
        Assert.DoesNotContain("httponly", csrfCookie, StringComparison.OrdinalIgnoreCase);

        var later = new DefaultHttpContext();
        later.Request.Headers.Cookie = $"{DashboardSessions.SessionCookie}={session.Id}";
        clock.Advance(DashboardSessions.Lifetime - TimeSpan.FromSeconds(1));
        Assert.Same(session, sessions.Find(later));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(sessions.Find(later));
    }

    [Fact]
    public async Task A_login_with_a_live_session_cookie_needs_no_csrf_header()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var client = dashboard.CreateClient(null, null);
        using var first = await client.PostAsJsonAsync("api/dashboard/login", new { username = "admin", password = "public" });
        var cookie = first.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith(DashboardSessions.SessionCookie + "=", StringComparison.Ordinal));

        using var again = new HttpRequestMessage(HttpMethod.Post, "api/dashboard/login") { Content = JsonContent.Create(new { username = "admin", password = "public" }) };
        again.Headers.Add("Cookie", cookie);
        using var response = await client.SendAsync(again);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static HttpRequestMessage WithCookie(HttpMethod method, string path, string session)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Cookie", $"{DashboardSessions.SessionCookie}={session}");
        return request;
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
