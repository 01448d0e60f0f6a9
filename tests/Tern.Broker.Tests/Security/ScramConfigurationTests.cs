using Tern.Server;

namespace Tern.Broker.Tests.Security;

/// <summary>The <c>Auth</c> configuration section: SCRAM on/off and the user list.</summary>
public sealed class ScramConfigurationTests
{
    [Theory]
    [InlineData("Auth:Users", "Auth:Scram:Enabled=true")]
    [InlineData("Auth:Users:0:Username", "Auth:Scram:Enabled=true", "Auth:Users:0:Username=", "Auth:Users:0:Password=x")]
    [InlineData("Auth:Users:0:Username", "Auth:Scram:Enabled=true", "Auth:Users:0:Password=x")]
    [InlineData("Auth:Users:0:Password", "Auth:Scram:Enabled=true", "Auth:Users:0:Username=alice")]
    [InlineData("Auth:Users:1:Username", "Auth:Scram:Enabled=true", "Auth:Users:0:Username=alice", "Auth:Users:0:Password=x", "Auth:Users:1:Username=alice", "Auth:Users:1:Password=y")]
    [InlineData("Auth:Users:0:Passwd", "Auth:Scram:Enabled=true", "Auth:Users:0:Username=alice", "Auth:Users:0:Passwd=x")]
    [InlineData("Auth:Scram:Enabled", "Auth:Scram:Enabled=maybe")]
    [InlineData("Auth:Scram:Iterationz", "Auth:Scram:Iterationz=1")]
    [InlineData("Auth:Ldap", "Auth:Ldap=on")]
    [InlineData("Auth:Users", "Auth:Users=alice")]
    [InlineData("Auth:Users:0:Username", "Auth:Users:0:Password=x")] // checked even while SCRAM is off
    public void InvalidAuthConfigurationNamesTheKey(string key, params string[] settings)
    {
        var overrides = settings.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => (string?)p[1]);

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: overrides));

        Assert.Equal(key, ex.Key, StringComparer.OrdinalIgnoreCase);
        Assert.Contains(key, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ValidUsersBuildAServer()
    {
        await using var server = TernServer.Create(args: [], overrides: new Dictionary<string, string?>
        {
            ["Auth:Scram:Enabled"] = "true",
            ["Auth:Users:0:Username"] = "alice",
            ["Auth:Users:0:Password"] = "wonderland",
        });

        Assert.NotNull(server.Broker);
    }
}
