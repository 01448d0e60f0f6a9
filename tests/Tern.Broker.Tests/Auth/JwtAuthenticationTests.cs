using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tern.Protocol;
using Tern.Server;
using Tern.Server.Security;
using Tern.TestKit;
using static Tern.Broker.Tests.Auth.AuthTestSupport;

namespace Tern.Broker.Tests.Auth;

/// <summary>JWT in the CONNECT password (Auth:Jwt): through a real broker, and the authenticator's answers directly.</summary>
public sealed class JwtAuthenticationTests
{
    private const string Secret = "a-shared-secret-of-at-least-32-bytes!";
    private const byte BadCredentials5 = (byte)ReasonCode.BadUserNameOrPassword;

    private static readonly Dictionary<string, string?> Hs256Settings = new()
    {
        ["Auth:Jwt:Enabled"] = "true",
        ["Auth:Jwt:Algorithm"] = "HS256",
        ["Auth:Jwt:Secret"] = Secret,
    };

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task ValidHs256TokenIsAccepted(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(Hs256Settings);
        var token = Hs256(Secret, new { sub = "sensor-1", exp = InSeconds(300) });

        Assert.Equal(0, await ConnectCodeAsync(broker, "sensor-1", token, version));
    }

    [Fact]
    public async Task Mqtt5TokenWithoutUserNameIsAcceptedAsTheClaimsUser()
    {
        await using var broker = await TestBroker.StartAsync(Hs256Settings);
        var token = Hs256(Secret, new { sub = "sensor-1", exp = InSeconds(300) });

        // MQTT 5 allows a password without a user name; the token names the user.
        Assert.Equal(0, await ConnectCodeAsync(broker, null, token, MqttProtocolVersion.V500));
    }

    [Fact]
    public async Task ValidRs256TokenIsAccepted()
    {
        using var key = RSA.Create(2048);
        await using var broker = await TestBroker.StartAsync(Rs256Settings(key));

        Assert.Equal(0, await ConnectCodeAsync(broker, "sensor-2", Rs256(key, new { sub = "sensor-2", exp = InSeconds(300) }), MqttProtocolVersion.V500));

        using var other = RSA.Create(2048);
        Assert.Equal(BadCredentials5, await ConnectCodeAsync(broker, "sensor-2", Rs256(other, new { sub = "sensor-2", exp = InSeconds(300) }), MqttProtocolVersion.V500));
    }

    [Fact]
    public async Task BadTokensGetBadCredentialsThroughTheBroker()
    {
        await using var broker = await TestBroker.StartAsync(Hs256Settings);

        Assert.Equal((byte)ConnectReturnCode.BadUsernameOrPassword, await ConnectCodeAsync(broker, "s", Hs256(Secret, new { sub = "s", exp = InSeconds(-600) })));
        Assert.Equal(BadCredentials5, await ConnectCodeAsync(broker, "s", Hs256(Secret, new { sub = "s", exp = InSeconds(-600) }), MqttProtocolVersion.V500));
        Assert.Equal(BadCredentials5, await ConnectCodeAsync(broker, "s", Hs256("another-secret-that-is-32-bytes-long!", new { sub = "s", exp = InSeconds(300) }), MqttProtocolVersion.V500));
        Assert.Equal(BadCredentials5, await ConnectCodeAsync(broker, "s", Token(new { alg = "none" }, new { sub = "s", exp = InSeconds(300) }, _ => []) + "x", MqttProtocolVersion.V500));
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task NonTokenPasswordWithOnlyJwtConfiguredIsRefusedAndAnonymousStillWorks()
    {
        await using var broker = await TestBroker.StartAsync(Hs256Settings);

        Assert.Equal((byte)ConnectReturnCode.BadUsernameOrPassword, await ConnectCodeAsync(broker, "alice", "not-a-token"));
        Assert.Equal(0, await ConnectCodeAsync(broker, null, null));
    }

    [Fact]
    public async Task TokensAndUsersFileWorkSideBySide()
    {
        var settings = new Dictionary<string, string?>(Hs256Settings) { ["Auth:UsersFile"] = WriteUsersFile(("alice", "wonderland")) };
        await using var broker = await TestBroker.StartAsync(settings);

        Assert.Equal(0, await ConnectCodeAsync(broker, "alice", "wonderland"));
        Assert.Equal(0, await ConnectCodeAsync(broker, "sensor-1", Hs256(Secret, new { sub = "sensor-1", exp = InSeconds(300) })));

        // A token for a user of the file is the token's business: a bad token is not retried as a password.
        Assert.Equal((byte)ConnectReturnCode.BadUsernameOrPassword, await ConnectCodeAsync(broker, "alice", Hs256(Secret, new { sub = "alice", exp = InSeconds(-600) })));
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadTokenIsBadCredentials(string name, string token)
    {
        using var jwt = Hs256Authenticator(new JwtOptions { Issuer = "tern-tests", Audience = "tern" });

        var result = await jwt.AuthenticateAsync(Credentials(null, token), CancellationToken.None);

        Assert.True(result.Outcome == AuthenticationOutcome.BadCredentials, $"{name}: {result}");
    }

    public static TheoryData<string, string> BadTokens()
    {
        var good = new { sub = "s", exp = InSeconds(300), iss = "tern-tests", aud = "tern" };
        var data = new TheoryData<string, string>
        {
            { "expired", Hs256(Secret, new { sub = "s", exp = InSeconds(-120), iss = "tern-tests", aud = "tern" }) },
            { "not yet valid", Hs256(Secret, new { sub = "s", exp = InSeconds(600), nbf = InSeconds(300), iss = "tern-tests", aud = "tern" }) },
            { "no exp", Hs256(Secret, new { sub = "s", iss = "tern-tests", aud = "tern" }) },
            { "wrong signature", Hs256("another-secret-that-is-32-bytes-long!", good) },
            { "alg none, empty signature", Token(new { alg = "none" }, good, _ => []) },
            { "alg none, one-character signature", Token(new { alg = "none" }, good, _ => []) + "x" },
            { "alg none, signature", Token(new { alg = "none" }, good, _ => []).TrimEnd('.') + ".AA" },
            { "alg HS512", Hs256(Secret, good, alg: "HS512") },
            { "alg hs256 (case)", Hs256(Secret, good, alg: "hs256") },
            { "alg RS256 on an HS256 broker", Hs256(Secret, good, alg: "RS256") },
            { "wrong issuer", Hs256(Secret, new { sub = "s", exp = InSeconds(300), iss = "someone-else", aud = "tern" }) },
            { "wrong audience", Hs256(Secret, new { sub = "s", exp = InSeconds(300), iss = "tern-tests", aud = new[] { "a", "b" } }) },
            { "no sub", Hs256(Secret, new { exp = InSeconds(300), iss = "tern-tests", aud = "tern" }) },
            { "exp as string", Hs256(Secret, new { sub = "s", exp = "soon", iss = "tern-tests", aud = "tern" }) },
            { "crit header", Token(new { alg = "HS256", crit = new[] { "x" } }, good, input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), input)) },
            { "bad acl claim", Hs256(Secret, new { sub = "s", exp = InSeconds(300), iss = "tern-tests", aud = "tern", acl = new { pub = "not-a-list" } }) },
            { "acl claim with invalid filter", Hs256(Secret, new { sub = "s", exp = InSeconds(300), iss = "tern-tests", aud = "tern", acl = new { sub = new[] { "a/#/b" } } }) },
        };
        return data;
    }

    [Fact]
    public async Task ClockSkewToleratesARecentlyExpiredToken()
    {
        using var jwt = Hs256Authenticator(new JwtOptions());

        var result = await jwt.AuthenticateAsync(Credentials(null, Hs256(Secret, new { sub = "s", exp = InSeconds(-5) })), CancellationToken.None);

        Assert.Equal(AuthenticationOutcome.Success, result.Outcome);
    }

    [Fact]
    public async Task AcceptedTokenNamesTheUserAndAudienceListMatches()
    {
        using var jwt = Hs256Authenticator(new JwtOptions { Audience = "tern", UsernameClaim = "device" });
        var token = Hs256(Secret, new { device = "pump-7", exp = InSeconds(300), aud = new[] { "other", "tern" } });

        var result = await jwt.AuthenticateAsync(Credentials(null, token), CancellationToken.None);

        Assert.Equal(AuthenticationOutcome.Success, result.Outcome);
        Assert.Equal("pump-7", result.Username);
        Assert.Null(result.Rules);
    }

    [Fact]
    public async Task ConnectUserNameMustMatchTheClaim()
    {
        using var jwt = Hs256Authenticator(new JwtOptions());
        var token = Hs256(Secret, new { sub = "pump-7", exp = InSeconds(300) });

        Assert.Equal(AuthenticationOutcome.Success, (await jwt.AuthenticateAsync(Credentials("pump-7", token), CancellationToken.None)).Outcome);
        Assert.Equal(AuthenticationOutcome.BadCredentials, (await jwt.AuthenticateAsync(Credentials("pump-8", token), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task NonTokenPasswordIsNotHandled()
    {
        using var jwt = Hs256Authenticator(new JwtOptions());

        Assert.Equal(AuthenticationOutcome.NotHandled, (await jwt.AuthenticateAsync(Credentials("alice", "wonderland"), CancellationToken.None)).Outcome);
        Assert.Equal(AuthenticationOutcome.NotHandled, (await jwt.AuthenticateAsync(Credentials("alice", "a.b.c"), CancellationToken.None)).Outcome);
        Assert.Equal(AuthenticationOutcome.NotHandled, (await jwt.AuthenticateAsync(Credentials("alice", null), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task AclClaimBecomesAllowRulesEndingInDenyAll()
    {
        using var jwt = Hs256Authenticator(new JwtOptions());
        var token = Hs256(Secret, new
        {
            sub = "pump-7",
            exp = InSeconds(300),
            acl = new { pub = new[] { "devices/%u/#" }, sub = new[] { "devices/%u/cmd", "$SYS/broker/uptime" }, all = new[] { "shared/%c" } },
        });

        var result = await jwt.AuthenticateAsync(Credentials(null, token), CancellationToken.None);

        Assert.Equal(AuthenticationOutcome.Success, result.Outcome);
        Assert.Equal(
            [
                new AccessRule(true, AccessAction.Publish, "devices/%u/#"),
                new AccessRule(true, AccessAction.Subscribe, "devices/%u/cmd"),
                new AccessRule(true, AccessAction.Subscribe, "$SYS/broker/uptime"),
                new AccessRule(true, AccessAction.All, "shared/%c"),
                new AccessRule(false, AccessAction.All, "#"),
            ],
            result.Rules);
    }

    [Fact]
    public void AclClaimMapping()
    {
        using var empty = JsonDocument.Parse("{}");
        Assert.Equal([new AccessRule(false, AccessAction.All, "#")], JwtAuthenticator.RulesFromAclClaim(empty.RootElement));

        using var longNames = JsonDocument.Parse("""{"publish": ["a/+"], "subscribe": ["b/#"]}""");
        Assert.Equal(
            [new AccessRule(true, AccessAction.Publish, "a/+"), new AccessRule(true, AccessAction.Subscribe, "b/#"), new AccessRule(false, AccessAction.All, "#")],
            JwtAuthenticator.RulesFromAclClaim(longNames.RootElement));

        foreach (var bad in new[] { """["a"]""", """{"deny": ["a"]}""", """{"pub": [1]}""", """{"pub": [""]}""", """{"sub": ["a#"]}""" })
        {
            using var document = JsonDocument.Parse(bad);
            Assert.Throws<FormatException>(() => JwtAuthenticator.RulesFromAclClaim(document.RootElement));
        }
    }

    [Theory]
    [InlineData("Auth:Jwt:Secret", "short", "Auth:Jwt:Secret")]
    [InlineData("Auth:Jwt:Algorithm", "none", "Auth:Jwt:Algorithm")]
    [InlineData("Auth:Jwt:Algorithm", "HS512", "Auth:Jwt:Algorithm")]
    [InlineData("Auth:Jwt:ClockSkewSeconds", "-1", "Auth:Jwt:ClockSkewSeconds")]
    [InlineData("Auth:Jwt:ClockSkewSeconds", "x", "Auth:Jwt:ClockSkewSeconds")]
    [InlineData("Auth:Jwt:Secrit", "x", "Auth:Jwt:Secrit")]
    public void BadJwtSettingNamesTheKey(string key, string value, string expectedKey)
    {
        var settings = new Dictionary<string, string?>(Hs256Settings) { [key] = value };

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: settings));

        Assert.Equal(expectedKey, ex.Key);
    }

    [Fact]
    public void Rs256NeedsAReadableKeyOf2048Bits()
    {
        var settings = new Dictionary<string, string?> { ["Auth:Jwt:Enabled"] = "true", ["Auth:Jwt:Algorithm"] = "RS256" };
        Assert.Equal("Auth:Jwt:PublicKeyFile", Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: settings)).Key);

        settings["Auth:Jwt:PublicKeyFile"] = "/nonexistent/key.pem";
        Assert.Equal("Auth:Jwt:PublicKeyFile", Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: settings)).Key);

        using var small = RSA.Create(1024);
        Assert.Equal("Auth:Jwt:PublicKeyFile", Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: Rs256Settings(small))).Key);
    }

    private static Dictionary<string, string?> Rs256Settings(RSA key)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tern-jwt-test-").FullName, "public.pem");
        File.WriteAllText(path, key.ExportSubjectPublicKeyInfoPem());
        return new Dictionary<string, string?>
        {
            ["Auth:Jwt:Enabled"] = "true",
            ["Auth:Jwt:Algorithm"] = "RS256",
            ["Auth:Jwt:PublicKeyFile"] = path,
        };
    }

    private static JwtAuthenticator Hs256Authenticator(JwtOptions options)
    {
        options.Enabled = true;
        options.Algorithm = "HS256";
        options.Secret = Secret;
        return new JwtAuthenticator(options);
    }

    private static ConnectCredentials Credentials(string? username, string? password) => new(
        "client-1",
        username,
        password is null ? null : Encoding.UTF8.GetBytes(password),
        new IPEndPoint(IPAddress.Loopback, 50000),
        "tcp",
        MqttProtocolVersion.V500,
        null,
        false);
}
