using Tern.Protocol;
using Tern.Server;
using Tern.Server.Security;
using Tern.TestKit;
using static Tern.Broker.Tests.Auth.AuthTestSupport;

namespace Tern.Broker.Tests.Auth;

/// <summary>The users file (Auth:UsersFile) and anonymous access (Auth:AllowAnonymous) through a real broker.</summary>
public sealed class UsersAuthenticationTests
{
    private const byte Accepted = 0;
    private const byte BadCredentials311 = (byte)ConnectReturnCode.BadUsernameOrPassword;
    private const byte NotAuthorized311 = (byte)ConnectReturnCode.NotAuthorized;

    [Fact]
    public async Task DefaultSetupWithoutUsersFileAcceptsEveryone()
    {
        await using var broker = await TestBroker.StartAsync();

        Assert.Equal(Accepted, await ConnectCodeAsync(broker, null, null));
        Assert.Equal(Accepted, await ConnectCodeAsync(broker, "anyone", "anything"));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task RightPasswordIsAccepted(MqttProtocolVersion version)
    {
        await using var broker = await StartWithUsersAsync(WriteUsersFile(("alice", "wonderland")));

        Assert.Equal(Accepted, await ConnectCodeAsync(broker, "alice", "wonderland", version));

        // The second login takes the verified-password cache; it must give the same answer.
        Assert.Equal(Accepted, await ConnectCodeAsync(broker, "alice", "wonderland", version));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, BadCredentials311)]
    [InlineData(MqttProtocolVersion.V500, (byte)ReasonCode.BadUserNameOrPassword)]
    public async Task WrongPasswordUnknownUserAndMissingPasswordGetBadCredentials(MqttProtocolVersion version, byte expected)
    {
        await using var broker = await StartWithUsersAsync(WriteUsersFile(("alice", "wonderland")));
        Assert.Equal(Accepted, await ConnectCodeAsync(broker, "alice", "wonderland", version));

        Assert.Equal(expected, await ConnectCodeAsync(broker, "alice", "looking-glass", version));
        Assert.Equal(expected, await ConnectCodeAsync(broker, "mallory", "wonderland", version));
        Assert.Equal(expected, await ConnectCodeAsync(broker, "alice", null, version));
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task UnknownUserAndWrongPasswordReadTheSameInMqtt5()
    {
        await using var broker = await StartWithUsersAsync(WriteUsersFile(("alice", "wonderland")));

        var wrong = await ConnAckAsync(broker, "alice", "nope");
        var unknown = await ConnAckAsync(broker, "mallory", "nope");

        Assert.Equal(wrong.ReasonCode, unknown.ReasonCode);
        Assert.Equal(wrong.Properties?.ReasonString, unknown.Properties?.ReasonString);
    }

    [Fact]
    public async Task AnonymousClientsStillConnectByDefaultWhenThereAreUsers()
    {
        await using var broker = await StartWithUsersAsync(WriteUsersFile(("alice", "wonderland")));

        Assert.Equal(Accepted, await ConnectCodeAsync(broker, null, null));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, NotAuthorized311)]
    [InlineData(MqttProtocolVersion.V500, (byte)ReasonCode.NotAuthorized)]
    public async Task AllowAnonymousFalseRefusesClientsWithoutUserName(MqttProtocolVersion version, byte expected)
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:UsersFile"] = WriteUsersFile(("alice", "wonderland")),
            ["Auth:AllowAnonymous"] = "false",
        });

        Assert.Equal(expected, await ConnectCodeAsync(broker, null, null, version));
        Assert.Equal(Accepted, await ConnectCodeAsync(broker, "alice", "wonderland", version));
    }

    [Fact]
    public async Task AllowAnonymousFalseWithoutAnyUserSourceRefusesEveryone()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Auth:AllowAnonymous"] = "false" });

        Assert.Equal(NotAuthorized311, await ConnectCodeAsync(broker, null, null));

        // Nothing can check a password, so a user name is not believed.
        Assert.Equal(BadCredentials311, await ConnectCodeAsync(broker, "alice", "wonderland"));
    }

    [Fact]
    public async Task UserAddedToTheFileWhileRunningCanConnect()
    {
        var path = WriteUsersFile(("alice", "wonderland"));
        await using var broker = await StartWithUsersAsync(path);
        Assert.Equal(BadCredentials311, await ConnectCodeAsync(broker, "bob", "builder"));

        SaveUsers(path, ("alice", "wonderland"), ("bob", "builder"));

        // The watcher reloads after a short debounce; retry until then, within a bound.
        var deadline = DateTime.UtcNow + TestTimeouts.External;
        byte code;
        while ((code = await ConnectCodeAsync(broker, "bob", "builder")) != Accepted && DateTime.UtcNow < deadline)
        {
        }

        Assert.Equal(Accepted, code);

        // Removing a user takes effect the same way (and the cached login of the old hash is not reused).
        SaveUsers(path, ("bob", "builder"));
        deadline = DateTime.UtcNow + TestTimeouts.External;
        while ((code = await ConnectCodeAsync(broker, "alice", "wonderland")) == Accepted && DateTime.UtcNow < deadline)
        {
        }

        Assert.Equal(BadCredentials311, code);
    }

    [Fact]
    public async Task MalformedReloadKeepsThePreviousUsers()
    {
        var path = WriteUsersFile(("alice", "wonderland"));
        using var store = new UsersStore(path);
        await File.WriteAllTextAsync(path, "{ \"users\": [ { \"username\": \"alice\" ");

        store.Reload(force: true);

        Assert.True(store.TryGetHash("alice", out _, out _));
    }

    [Fact]
    public async Task MosquittoPubWithUserAndPassword()
    {
        ExternalTools.Require(ExternalTools.MosquittoPub, ExternalTools.MosquittoClientsPackage);
        await using var broker = await StartWithUsersAsync(WriteUsersFile(("alice", "wonderland")));

        Assert.Equal(0, await MosquittoPubAsync(broker, "-u", "alice", "-P", "wonderland"));
        Assert.NotEqual(0, await MosquittoPubAsync(broker, "-u", "alice", "-P", "wrong"));
        Assert.NotEqual(0, await MosquittoPubAsync(broker, "-V", "mqttv5", "-u", "mallory", "-P", "wrong"));
    }

    [Fact]
    public void NamedUsersFileMustExist()
    {
        var missing = Path.Combine(Path.GetTempPath(), "tern-no-such-dir", "users.json");

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Auth:UsersFile"] = missing }));

        Assert.Equal("Auth:UsersFile", ex.Key);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"users\": 5 }")]
    [InlineData("{ \"users\": [ { \"username\": \"a\", \"hash\": \"plain\" } ] }")]
    [InlineData("{ \"users\": [ { \"username\": \"a\", \"hash\": \"$pbkdf2-sha256$i=10$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" } ] }")]
    [InlineData("not json")]
    public void MalformedUsersFileNamesTheKey(string content)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tern-auth-test-").FullName, "users.json");
        File.WriteAllText(path, content);

        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Auth:UsersFile"] = path }));

        Assert.Equal("Auth:UsersFile", ex.Key);
    }

    [Fact]
    public void RepeatedUserIsRefused()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tern-auth-test-").FullName, "users.json");
        var hash = UsersPasswordHash.Hash("x", FastIterations);
        UsersFile.Save(path, [new("a", hash), new("a", hash)]);

        var ex = Assert.Throws<InvalidDataException>(() => UsersFile.Load(path));
        Assert.Contains("twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowAnonymousMustBeABoolean()
    {
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Auth:AllowAnonymous"] = "maybe" }));

        Assert.Equal("Auth:AllowAnonymous", ex.Key);
    }

    [Fact]
    public void UnknownAuthKeyIsRefused()
    {
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: new Dictionary<string, string?> { ["Auth:AllowAnonymus"] = "false" }));

        Assert.Equal("Auth:AllowAnonymus", ex.Key);
    }

    [Fact]
    public void HashRoundTripsAndRejectsOtherPasswords()
    {
        var hash = UsersPasswordHash.Hash("correct horse", FastIterations);

        Assert.StartsWith($"$pbkdf2-sha256$i={FastIterations}$", hash, StringComparison.Ordinal);
        Assert.True(UsersPasswordHash.Verify("correct horse", hash));
        Assert.False(UsersPasswordHash.Verify("correct horsE", hash));
        Assert.False(UsersPasswordHash.Verify("correct horse", hash[..^4] + "AAA="));
        Assert.NotEqual(hash, UsersPasswordHash.Hash("correct horse", FastIterations));
        Assert.True(UsersPasswordHash.TryGetIterations(UsersPasswordHash.Hash("x"), out var iterations));
        Assert.Equal(UsersPasswordHash.DefaultIterations, iterations);
    }

    private static Task<TestBroker> StartWithUsersAsync(string path) =>
        TestBroker.StartAsync(new Dictionary<string, string?> { ["Auth:UsersFile"] = path });

    private static async Task<ConnAckPacket> ConnAckAsync(TestBroker broker, string username, string password)
    {
        await using var client = await broker.OpenRawAsync();
        return await client.ConnectAsync(TestIds.Client("auth"), version: MqttProtocolVersion.V500, username: username, password: System.Text.Encoding.UTF8.GetBytes(password));
    }

    private static async Task<int> MosquittoPubAsync(TestBroker broker, params string[] args)
    {
        await using var pub = ProcessRunner.Start(
            ExternalTools.MosquittoPub,
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", TestIds.Client("mpub"), "-t", TestIds.Topic(), "-m", "hello", .. args],
            ExternalTools.MosquittoClientsPackage);
        return await pub.WaitForExitAsync(TestTimeouts.External);
    }
}
