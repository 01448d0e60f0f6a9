using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Tern.Protocol;
using Tern.Server;
using Tern.Server.Security;
using Tern.TestKit;

namespace Tern.Broker.Tests.Acl;

/// <summary>The <c>Acl</c> configuration section, the ACL file at startup, and reloading it while running.</summary>
public sealed class AclConfigurationTests
{
    private const string DenyX = """{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "x" } ] }""";

    private static readonly ClientIdentity Someone = new("c1", "alice", IPAddress.Loopback, "tcp", null);

    [Theory]
    [InlineData("Acl:Default", "Acl:Default=maybe")]
    [InlineData("Acl:Fiel", "Acl:Fiel=acl.json")]
    [InlineData("Acl:ReloadIntervalSeconds", "Acl:ReloadIntervalSeconds=-1")]
    [InlineData("Acl:Rules", "Acl:Rules=deny all")]
    [InlineData("Acl:Rules:0:Action", "Acl:Rules:0:Allow=true", "Acl:Rules:0:All=true", "Acl:Rules:0:Action=pub", "Acl:Rules:0:Topic=#")]
    [InlineData("Acl:Rules:0:Usr", "Acl:Rules:0:Allow=true", "Acl:Rules:0:Usr=bob", "Acl:Rules:0:Action=all", "Acl:Rules:0:Topic=#")]
    [InlineData("Acl:Rules:0:Topic", "Acl:Rules:0:Allow=true", "Acl:Rules:0:All=true", "Acl:Rules:0:Action=all", "Acl:Rules:0:Topic=a#")]
    [InlineData("Acl:Rules:0:Ip", "Acl:Rules:0:Allow=true", "Acl:Rules:0:Ip=10.0.0.0/33", "Acl:Rules:0:Action=all", "Acl:Rules:0:Topic=#")]
    [InlineData("Acl:Rules:1", "Acl:Rules:0:Allow=true", "Acl:Rules:0:All=true", "Acl:Rules:0:Action=all", "Acl:Rules:0:Topic=#", "Acl:Rules:1:Allow=true", "Acl:Rules:1:Action=all", "Acl:Rules:1:Topic=#")]
    [InlineData("Acl:Rules:0:CoveredOnly", "Acl:Rules:0:Allow=true", "Acl:Rules:0:All=true", "Acl:Rules:0:Action=all", "Acl:Rules:0:Topic=#", "Acl:Rules:0:CoveredOnly=true")]
    public void InvalidAclConfigurationNamesTheKey(string key, params string[] settings)
    {
        var overrides = settings.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => (string?)p[1]);

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: overrides));

        Assert.Equal(key, ex.Key, StringComparer.OrdinalIgnoreCase);
        Assert.Contains(key, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task WithoutAnAclSection_EverythingIsAllowedButPerClientRulesStillApply()
    {
        await using var server = TernServer.Create(args: [], overrides: new Dictionary<string, string?>());
        var authorizer = server.Broker.Authorizer!;
        var limited = new ClientIdentity("c2", "pump", IPAddress.Loopback, "tcp", [new AccessRule(true, AccessAction.Publish, "pumps/%u/#"), new AccessRule(false, AccessAction.All, "#")]);

        Assert.True(authorizer.CanSubscribe(Someone, "#"));
        Assert.True(authorizer.CanSubscribe(Someone, "$SYS/#"));
        Assert.True(authorizer.CanPublish(Someone, "anything"));
        Assert.True(authorizer.CanPublish(limited, "pumps/pump/state"));
        Assert.False(authorizer.CanPublish(limited, "anything"));
        Assert.False(authorizer.CanSubscribe(limited, "#"));
        Assert.False(authorizer.CanSubscribe(limited, "$SYS/#"));
    }

    [Fact]
    public void BrokenFileAtStartup_StopsWithAnErrorNamingTheFileAndLine()
    {
        using var acl = new AclTestFile("{\n  \"rules\": [\n    { \"allow\": true, \"all\": true, \"action\": \"publish\", \"topic\": \"a/#/b\" }\n  ]\n}\n");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Acl:File"] = acl.Path }));

        Assert.Equal("Acl:File", ex.Key);
        Assert.Contains(acl.Path + ", line 3: rules[0].topic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileAtStartup_StopsWithAnErrorNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "tern-acl-missing-" + Guid.NewGuid().ToString("N") + ".json");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Acl:File"] = path }));

        Assert.Equal("Acl:File", ex.Key);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not found", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InlineRulesComeBeforeTheFileAndTheFileDefaultWins()
    {
        using var acl = new AclTestFile("""{ "default": "deny", "rules": [ { "allow": true, "all": true, "action": "all", "topic": "#" } ] }""");
        await using var server = TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Acl:File"] = acl.Path,
            ["Acl:Default"] = "allow",
            ["Acl:Rules:0:Allow"] = "false",
            ["Acl:Rules:0:User"] = "alice",
            ["Acl:Rules:0:Action"] = "publish",
            ["Acl:Rules:0:Topic"] = "x",
        });
        var authorizer = server.Broker.Authorizer!;

        Assert.False(authorizer.CanPublish(Someone, "x"));
        Assert.True(authorizer.CanPublish(Someone, "y"));
        Assert.False(authorizer.CanSubscribe(Someone, "$other/x"));
    }

    [Fact]
    public async Task ChangedFile_TakesEffectForNewPublishes()
    {
        using var acl = new AclTestFile(DenyX);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Acl:File"] = acl.Path,
            ["Acl:ReloadIntervalSeconds"] = "0.05",
        });
        await using var client = await broker.ConnectV5Async(TestIds.Client());
        Assert.Equal(ReasonCode.NotAuthorized, (await client.PublishQoS1V5Async("x", "1")).ReasonCode);

        acl.Write("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "y" } ] }""");
        await WaitForPublishResultAsync(client, "x", ReasonCode.NoMatchingSubscribers);
        Assert.Equal(ReasonCode.NotAuthorized, (await client.PublishQoS1V5Async("y", "1")).ReasonCode);

        acl.Write(DenyX);
        await WaitForPublishResultAsync(client, "x", ReasonCode.NotAuthorized);
    }

    [Fact]
    public async Task BrokenOrMissingFileOnReload_KeepsThePreviousRulesAndLogsAnError()
    {
        using var acl = new AclTestFile(DenyX);
        await using var server = TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Acl:File"] = acl.Path,
            ["Acl:ReloadIntervalSeconds"] = "86400",
        });
        var setup = AclSetup.FromConfiguration(server.Configuration)!;
        var logger = new ListLogger();
        using var reloader = new AclReloader(setup, logger, TimeProvider.System);
        await reloader.StartAsync(CancellationToken.None);
        var generation = setup.Authorizer.Generation;

        // A change is loaded once the file has stayed the same for one more check.
        acl.Write("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "y" } ] }""");
        reloader.Poll();
        Assert.Equal(generation, setup.Authorizer.Generation);
        reloader.Poll();
        Assert.NotEqual(generation, setup.Authorizer.Generation);
        Assert.True(setup.Authorizer.CanPublish(Someone, "x"));
        generation = setup.Authorizer.Generation;

        acl.Write("{ \"rules\": [\n  { \"allow\": false, \"all\": true, \"action\": \"publsh\", \"topic\": \"x\" }\n] }");
        reloader.Poll();
        reloader.Poll();
        Assert.Equal(generation, setup.Authorizer.Generation);
        Assert.False(setup.Authorizer.CanPublish(Someone, "y"));
        var error = Assert.Single(logger.Errors);
        Assert.Contains(acl.Path + ", line 2: rules[0].action", error, StringComparison.Ordinal);

        File.Delete(acl.Path);
        reloader.Poll();
        reloader.Poll();
        Assert.Equal(generation, setup.Authorizer.Generation);
        Assert.Equal(2, logger.Errors.Count);
        Assert.Contains("file not found", logger.Errors[1], StringComparison.Ordinal);

        // Nothing changed since: no more reloads and no more errors.
        reloader.Poll();
        Assert.Equal(2, logger.Errors.Count);
    }

    /// <summary>Publishes at QoS 1 until the PUBACK carries <paramref name="expected"/>; each round trip paces the next.</summary>
    private static async Task WaitForPublishResultAsync(RawMqttClient client, string topic, ReasonCode expected)
    {
        var watch = Stopwatch.StartNew();
        var last = ReasonCode.Success;
        while (watch.Elapsed < TestTimeouts.External)
        {
            last = (await client.PublishQoS1V5Async(topic, "probe")).ReasonCode;
            if (last == expected)
            {
                return;
            }

            await client.PingAsync();
        }

        Assert.Fail($"PUBLISH '{topic}' was still answered 0x{(byte)last:X2} after {watch.Elapsed}; expected 0x{(byte)expected:X2} once the ACL file was reloaded");
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Errors { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors.Add(formatter(state, exception));
            }
        }
    }
}
