using PuppeteerSharp;

namespace Tern.Server.Tests;

/// <summary>
/// The Users and ACL rules pages: what is changed on them holds at once for real MQTT clients
/// (<c>mosquitto_pub</c>, <c>mosquitto_sub</c>), and the page's check box agrees with them.
/// </summary>
public sealed class DashboardUsersAclPagesTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task A_user_added_on_the_page_connects_with_mosquitto_pub_until_it_is_deleted()
    {
        using var files = new V5ManagementBroker(allowAnonymous: false);
        await using var dashboard = await files.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("users");
        await page.WaitForTextAsync(".pager[data-list='users'] span", "0 · page 1 of 1");
        Assert.NotEqual(0, (await Pub(dashboard, "-u", "alice", "-P", "first-Pa55", "-t", "t/1")).Exit);

        await AddUserAsync(page, "alice", "first-Pa55");

        const string Row = "#users-table tr[data-user='alice']";
        await page.WaitForTextAsync(Row + " td:nth-child(2)", "no");
        var published = await Pub(dashboard, "-u", "alice", "-P", "first-Pa55", "-t", "t/1");
        Assert.True(published.Exit == 0, published.Output);
        var wrong = await Pub(dashboard, "-u", "alice", "-P", "not-her-password", "-t", "t/1");
        Assert.True(wrong.Exit != 0, wrong.Output);

        // The API's refusal is shown on the page.
        await AddUserAsync(page, "alice", "again");
        await page.Page.WaitForFunctionAsync("() => document.getElementById('user-result').className === 'form-error'");
        Assert.Contains("already exists", await page.TextAsync("#user-result"), StringComparison.Ordinal);

        await page.Page.ClickAsync(Row + " button.password");
        await page.Page.TypeAsync("#user-password-new", "second-Pa55");
        await page.Page.ClickAsync("#user-password-submit");
        await page.Page.WaitForSelectorAsync("#user-password-form", new WaitForSelectorOptions { Hidden = true });
        Assert.NotEqual(0, (await Pub(dashboard, "-u", "alice", "-P", "first-Pa55", "-t", "t/1")).Exit);
        Assert.Equal(0, (await Pub(dashboard, "-u", "alice", "-P", "second-Pa55", "-t", "t/1")).Exit);

        await page.Page.ClickAsync(Row + " button.delete");

        await page.Page.WaitForSelectorAsync(Row, new WaitForSelectorOptions { Hidden = true });
        var refused = await Pub(dashboard, "-u", "alice", "-P", "second-Pa55", "-t", "t/1");
        Assert.True(refused.Exit != 0, refused.Output);
        page.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_deny_rule_added_on_the_page_refuses_mosquitto_and_the_check_box_follows_reorder_and_edit()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        await using var page = await DashboardPage.OpenAsync(chromium.Browser, dashboard);
        await page.LogInAndWaitAsync();
        await page.GoToAsync("acl");

        await AddRuleAsync(page, "clients", "dev-7", "deny", "publish", "plant/#");

        const string First = "#acl-table tr[data-kind='clients'][data-who='dev-7'][data-index='0']";
        await page.WaitForTextAsync(First + " td:nth-child(5)", "plant/#");
        await CheckAsync(page, "dev-7", "plant/1/valve", "publish");
        await page.WaitForTextAsync("#acl-check-verdict", "deny");
        await page.Page.WaitForSelectorAsync(First + ".decided");
        var denied = await Pub(dashboard, "-V", "mqttv5", "-q", "1", "-i", "dev-7", "-t", "plant/1/valve");
        Assert.Contains("Not authorized", denied.Output, StringComparison.Ordinal);
        var other = await Pub(dashboard, "-V", "mqttv5", "-q", "1", "-i", "dev-8", "-t", "plant/1/valve");
        Assert.True(other.Exit == 0 && !other.Output.Contains("Not authorized", StringComparison.Ordinal), other.Output);

        // An allow rule after the deny changes nothing; moved up, it decides.
        await AddRuleAsync(page, "clients", "dev-7", "allow", "publish", "plant/1/valve");
        const string Second = "#acl-table tr[data-kind='clients'][data-who='dev-7'][data-index='1']";
        await page.WaitForTextAsync(Second + " td:nth-child(5)", "plant/1/valve");
        await page.WaitForTextAsync("#acl-check-verdict", "deny");

        await page.Page.ClickAsync(Second + " button.up");

        await page.WaitForTextAsync(First + " td:nth-child(5)", "plant/1/valve");
        await page.WaitForTextAsync("#acl-check-verdict", "allow");
        var allowed = await Pub(dashboard, "-V", "mqttv5", "-q", "1", "-i", "dev-7", "-t", "plant/1/valve");
        Assert.True(allowed.Exit == 0 && !allowed.Output.Contains("Not authorized", StringComparison.Ordinal), allowed.Output);

        // Edited to another topic, the allow rule no longer applies and the deny decides again.
        await page.Page.ClickAsync(First + " button.edit");
        await page.WaitForTextAsync("#acl-submit", "Save rule");
        await page.Page.EvaluateFunctionAsync("() => { document.getElementById('acl-topic').value = ''; }");
        await page.Page.TypeAsync("#acl-topic", "plant/2/valve");
        await page.Page.ClickAsync("#acl-submit");
        await page.WaitForTextAsync(First + " td:nth-child(5)", "plant/2/valve");
        await page.WaitForTextAsync("#acl-check-verdict", "deny");
        Assert.Contains("Not authorized", (await Pub(dashboard, "-V", "mqttv5", "-q", "1", "-i", "dev-7", "-t", "plant/1/valve")).Output, StringComparison.Ordinal);

        // A rule for all clients on SUBSCRIBE: mosquitto_sub is refused, as the box says.
        await AddRuleAsync(page, "all", null, "deny", "subscribe", "secret/#");
        await page.WaitForTextAsync("#acl-table tr[data-kind='all'][data-index='0'] td:nth-child(5)", "secret/#");
        await CheckAsync(page, "anyone", "secret/+/key", "subscribe");
        await page.WaitForTextAsync("#acl-check-verdict", "deny");
        var sub = await V5ManagementBroker.MosquittoSubAsync(dashboard.Broker, "-V", "mqttv5", "-i", "anyone", "-t", "secret/+/key", "-W", "10");
        Assert.Contains("denied", sub.Output, StringComparison.Ordinal);

        // Deleting the deny of dev-7 leaves the default, which allows.
        await CheckAsync(page, "dev-7", "plant/1/valve", "publish");
        await page.WaitForTextAsync("#acl-check-verdict", "deny");
        await page.Page.ClickAsync(Second + " button.delete");
        await page.WaitForTextAsync("#acl-check-verdict", "allow");
        Assert.Null(await page.Page.QuerySelectorAsync(Second));
        page.AssertNoScriptErrors();
    }

    private static Task<(int Exit, string Output)> Pub(DashboardBroker dashboard, params string[] args)
        => V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, [.. args, "-m", "x"]);

    private static async Task AddUserAsync(DashboardPage page, string userId, string password)
    {
        await page.Page.TypeAsync("#user-id", userId);
        await page.Page.TypeAsync("#user-password", password);
        await page.Page.ClickAsync("#user-submit");
    }

    private static async Task AddRuleAsync(DashboardPage page, string kind, string? who, string permission, string action, string topic)
    {
        await page.Page.SelectAsync("#acl-kind", kind);
        await page.Page.EvaluateFunctionAsync("() => { document.getElementById('acl-who').value = ''; }");
        if (who is not null)
        {
            await page.Page.TypeAsync("#acl-who", who);
        }

        await page.Page.SelectAsync("#acl-permission", permission);
        await page.Page.SelectAsync("#acl-action", action);
        await page.Page.TypeAsync("#acl-topic", topic);
        await page.Page.ClickAsync("#acl-submit");
        await page.Page.WaitForFunctionAsync("t => document.getElementById('acl-result').textContent.startsWith('Added') && document.getElementById('acl-topic').value === ''", topic);
    }

    private static async Task CheckAsync(DashboardPage page, string clientId, string topic, string action)
    {
        foreach (var id in new[] { "acl-check-clientid", "acl-check-topic" })
        {
            await page.Page.EvaluateFunctionAsync("id => { document.getElementById(id).value = ''; }", id);
        }

        await page.Page.TypeAsync("#acl-check-clientid", clientId);
        await page.Page.TypeAsync("#acl-check-topic", topic);
        await page.Page.SelectAsync("#acl-check-action", action);
        await page.Page.ClickAsync("#acl-check-submit");
    }
}
