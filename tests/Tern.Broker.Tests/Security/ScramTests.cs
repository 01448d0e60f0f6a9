using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Broker.Tests.Security;

/// <summary>The SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) driven directly, without a connection.</summary>
public sealed class ScramTests
{
    // RFC 7677 section 3.
    private const string RfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
    private const string RfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private const string RfcSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
    private const string RfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    private const string RfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string RfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string RfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    private static readonly ScramCredential RfcUser = ScramCredential.FromPassword("pencil", Convert.FromBase64String(RfcSalt), 4096);

    [Fact]
    public async Task Rfc7677TestVectorSucceedsWithTheRfcMessages()
    {
        var exchange = RfcAuthenticator().Begin(Context());

        var first = await StepAsync(exchange, RfcClientFirst);
        Assert.Equal(AuthOutcome.Continue, first.Outcome);
        Assert.Equal(RfcServerFirst, Text(first));

        var final = await StepAsync(exchange, RfcClientFinal);
        Assert.True(final.Outcome == AuthOutcome.Success, final.Reason);
        Assert.Equal(RfcServerFinal, Text(final));
        Assert.Equal("user", final.User);
    }

    [Fact]
    public void TestClientReproducesTheRfc7677ClientFinalMessage()
    {
        // Guards the helper the end-to-end tests rely on.
        var client = new ScramTestClient("user", "pencil", RfcClientNonce);

        Assert.Equal(RfcClientFirst, client.ClientFirstText);
        Assert.Equal(RfcClientFinal, client.ClientFinalText(Encoding.UTF8.GetBytes(RfcServerFirst)));
        Assert.True(client.VerifyServerFinal(Encoding.UTF8.GetBytes(RfcServerFinal)));
        Assert.False(client.VerifyServerFinal(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(new byte[32]))));
    }

    [Fact]
    public async Task RandomNoncesAndPasswordsRoundTrip()
    {
        var store = new InMemoryScramCredentialStore();
        store.SetPassword("alice", "correct horse");
        var authenticator = new ScramSha256Authenticator(store);
        var client = new ScramTestClient("alice", "correct horse");
        var exchange = authenticator.Begin(Context());

        var first = await exchange.StepAsync(client.ClientFirst(), CancellationToken.None);
        Assert.Equal(AuthOutcome.Continue, first.Outcome);
        var final = await exchange.StepAsync(client.ClientFinal(first.ServerData.Span), CancellationToken.None);

        Assert.True(final.Outcome == AuthOutcome.Success, final.Reason);
        Assert.True(client.VerifyServerFinal(final.ServerData.Span), "server signature must verify");
        Assert.Equal("alice", final.User);
    }

    [Fact]
    public async Task EachExchangeGetsAFreshServerNonce()
    {
        var authenticator = new ScramSha256Authenticator(RfcStore());

        var a = Text(await StepAsync(authenticator.Begin(Context()), RfcClientFirst));
        var b = Text(await StepAsync(authenticator.Begin(Context()), RfcClientFirst));

        Assert.NotEqual(a.Split(',')[0], b.Split(',')[0]);
    }

    [Fact]
    public async Task WrongPasswordFailsAtTheProof()
    {
        var client = new ScramTestClient("user", "pen", RfcClientNonce);
        var exchange = RfcAuthenticator().Begin(Context());

        var first = await exchange.StepAsync(client.ClientFirst(), CancellationToken.None);
        Assert.Equal(AuthOutcome.Continue, first.Outcome);
        var final = await exchange.StepAsync(client.ClientFinal(first.ServerData.Span), CancellationToken.None);

        Assert.Equal(AuthOutcome.Failure, final.Outcome);
        Assert.Equal(ScramSha256Authenticator.InvalidProofReason, final.Reason);
        Assert.True(final.ServerData.IsEmpty);
    }

    [Fact]
    public async Task UnknownUserLooksLikeAKnownUserUntilTheProof()
    {
        var authenticator = RfcAuthenticator();

        var known = Text(await StepAsync(authenticator.Begin(Context()), RfcClientFirst));
        var unknown = Text(await StepAsync(authenticator.Begin(Context()), $"n,,n=mallory,r={RfcClientNonce}"));
        var unknownAgain = Text(await StepAsync(authenticator.Begin(Context()), $"n,,n=mallory,r={RfcClientNonce}"));
        var otherUnknown = Text(await StepAsync(authenticator.Begin(Context()), $"n,,n=trudy,r={RfcClientNonce}"));

        // Same shape as a real user's answer: nonce, a 16-byte salt, 4096 iterations.
        var shape = new Regex($"^r={Regex.Escape(RfcClientNonce)}[!-+--~]+,s=(?<salt>[A-Za-z0-9+/=]+),i=4096$");
        Assert.Matches(shape, known);
        var match = shape.Match(unknown);
        Assert.True(match.Success, unknown);
        Assert.Equal(16, Convert.FromBase64String(match.Groups["salt"].Value).Length);

        // Deterministic per name, as a stored salt would be; different between names.
        Assert.Equal(Salt(unknown), Salt(unknownAgain));
        Assert.NotEqual(Salt(unknown), Salt(otherUnknown));
        Assert.NotEqual(Salt(known), Salt(unknown));
    }

    [Fact]
    public async Task UnknownUserFailsAtTheProofWithTheWrongPasswordReason()
    {
        var client = new ScramTestClient("mallory", "pencil");
        var exchange = RfcAuthenticator().Begin(Context());

        var first = await exchange.StepAsync(client.ClientFirst(), CancellationToken.None);
        Assert.Equal(AuthOutcome.Continue, first.Outcome);
        var final = await exchange.StepAsync(client.ClientFinal(first.ServerData.Span), CancellationToken.None);

        Assert.Equal(AuthOutcome.Failure, final.Outcome);
        Assert.Equal(ScramSha256Authenticator.InvalidProofReason, final.Reason);
    }

    [Fact]
    public async Task UnknownUserSaltsStayTheSameAcrossAuthenticatorsSharingTheKey()
    {
        // A cluster (or a restart) that shares the key must not reveal unknown names by changing their salt.
        var key = new byte[32];
        key[0] = 7;
        var a = new ScramSha256Authenticator(RfcStore(), key);
        var b = new ScramSha256Authenticator(RfcStore(), key);

        var fromA = Text(await StepAsync(a.Begin(Context()), $"n,,n=mallory,r={RfcClientNonce}"));
        var fromB = Text(await StepAsync(b.Begin(Context()), $"n,,n=mallory,r={RfcClientNonce}"));

        Assert.Equal(Salt(fromA), Salt(fromB));
    }

    [Fact]
    public async Task EscapedUserNamesAreUnescaped()
    {
        var store = new InMemoryScramCredentialStore();
        store.SetPassword("a,b=c", "secret");
        var client = new ScramTestClient("a,b=c", "secret");
        Assert.Contains("n=a=2Cb=3Dc,", client.ClientFirstText, StringComparison.Ordinal);
        var exchange = new ScramSha256Authenticator(store).Begin(Context());

        var first = await exchange.StepAsync(client.ClientFirst(), CancellationToken.None);
        var final = await exchange.StepAsync(client.ClientFinal(first.ServerData.Span), CancellationToken.None);

        Assert.True(final.Outcome == AuthOutcome.Success, final.Reason);
        Assert.Equal("a,b=c", final.User);
    }

    [Theory]
    [InlineData("a=2Cb", true, "a,b")]
    [InlineData("=3D=3D", true, "==")]
    [InlineData("plain", true, "plain")]
    [InlineData("a=2D", false, "")]
    [InlineData("a=", false, "")]
    [InlineData("a=2", false, "")]
    [InlineData("a=2c", false, "")]
    [InlineData("", false, "")]
    public void UserNameEscaping(string escaped, bool valid, string expected)
    {
        Assert.Equal(valid, ScramSha256Authenticator.TryUnescapeUsername(escaped, out var username));
        Assert.Equal(expected, username);
    }

    [Fact]
    public async Task ChannelBindingRequestIsRefused()
    {
        var exchange = RfcAuthenticator().Begin(Context());

        var step = await StepAsync(exchange, $"p=tls-unique,,n=user,r={RfcClientNonce}");

        Assert.Equal(AuthOutcome.Failure, step.Outcome);
        Assert.Contains("channel binding", step.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientThatCouldBindButSeesNoSupportIsAccepted()
    {
        // "y": the client supports channel binding but thinks the server does not, which is true (RFC 5802 section 6).
        var client = new ScramTestClient("user", "pencil", gs2Header: "y,,");
        var exchange = RfcAuthenticator().Begin(Context());

        var first = await exchange.StepAsync(client.ClientFirst(), CancellationToken.None);
        var final = await exchange.StepAsync(client.ClientFinal(first.ServerData.Span), CancellationToken.None);

        Assert.True(final.Outcome == AuthOutcome.Success, final.Reason);
    }

    [Fact]
    public async Task ClientFinalClaimingChannelBindingIsRefused()
    {
        var exchange = RfcAuthenticator().Begin(Context());
        await StepAsync(exchange, RfcClientFirst);

        // c= must repeat the GS2 header "n,,"; "cD10bHMtdW5pcXVlLCw=" is "p=tls-unique,,".
        var final = await StepAsync(exchange, RfcClientFinal.Replace("c=biws", "c=cD10bHMtdW5pcXVlLCw=", StringComparison.Ordinal));

        Assert.Equal(AuthOutcome.Failure, final.Outcome);
        Assert.Contains("channel binding", final.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("n")]
    [InlineData("n,")]
    [InlineData("x,,n=user,r=abc")]
    [InlineData("n,a=admin,n=user,r=abc")]
    [InlineData("n,,")]
    [InlineData("n,,n=user")]
    [InlineData("n,,r=abc,n=user")]
    [InlineData("n,,n=,r=abc")]
    [InlineData("n,,n=us=er,r=abc")]
    [InlineData("n,,n=user,r=")]
    [InlineData("n,,n=user,r=a b")]
    [InlineData("n,,m=ext,n=user,r=abc")]
    [InlineData("n,,n=user,r=abc,=x")]
    [InlineData("n,,n=user,r=abc,,")]
    [InlineData("n,,n=user,r=abc\u00e9")]
    public async Task MalformedClientFirstFailsWithAReason(string message)
    {
        var step = await StepAsync(RfcAuthenticator().Begin(Context()), message);

        Assert.Equal(AuthOutcome.Failure, step.Outcome);
        Assert.False(string.IsNullOrEmpty(step.Reason));
    }

    [Fact]
    public async Task InvalidUtf8AndOversizedMessagesFail()
    {
        var invalid = await RfcAuthenticator().Begin(Context()).StepAsync(new byte[] { 0x6E, 0x2C, 0x2C, 0xFF, 0xFE }, CancellationToken.None);
        var huge = await StepAsync(RfcAuthenticator().Begin(Context()), $"n,,n=user,r={new string('a', ScramSha256Authenticator.MaxMessageLength)}");

        Assert.Equal(AuthOutcome.Failure, invalid.Outcome);
        Assert.Contains("UTF-8", invalid.Reason, StringComparison.Ordinal);
        Assert.Equal(AuthOutcome.Failure, huge.Outcome);
    }

    [Theory]
    [InlineData("")]
    [InlineData("c=biws")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")]
    [InlineData("c=!!!,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=not-base64")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,garbage,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")]
    public async Task MalformedClientFinalFailsWithAReason(string message)
    {
        var exchange = RfcAuthenticator().Begin(Context());
        Assert.Equal(AuthOutcome.Continue, (await StepAsync(exchange, RfcClientFirst)).Outcome);

        var step = await StepAsync(exchange, message);

        Assert.Equal(AuthOutcome.Failure, step.Outcome);
        Assert.False(string.IsNullOrEmpty(step.Reason));
    }

    [Fact]
    public async Task ClientFinalWithExtensionBeforeTheProofIsCheckedOverTheWholeMessage()
    {
        // Extensions are part of AuthMessage; the RFC proof does not cover "x=1", so it must fail.
        var exchange = RfcAuthenticator().Begin(Context());
        await StepAsync(exchange, RfcClientFirst);

        var step = await StepAsync(exchange, RfcClientFinal.Replace(",p=", ",x=1,p=", StringComparison.Ordinal));

        Assert.Equal(AuthOutcome.Failure, step.Outcome);
        Assert.Equal(ScramSha256Authenticator.InvalidProofReason, step.Reason);
    }

    [Fact]
    public async Task NoStepAfterTheExchangeEnded()
    {
        var succeeded = RfcAuthenticator().Begin(Context());
        await StepAsync(succeeded, RfcClientFirst);
        await StepAsync(succeeded, RfcClientFinal);
        var failed = RfcAuthenticator().Begin(Context());
        await StepAsync(failed, "garbage");

        Assert.Equal(AuthOutcome.Failure, (await StepAsync(succeeded, RfcClientFinal)).Outcome);
        Assert.Equal(AuthOutcome.Failure, (await StepAsync(failed, RfcClientFirst)).Outcome);
    }

    [Fact]
    public async Task ConnectUserNameMustNameTheScramUser()
    {
        var same = await StepAsync(RfcAuthenticator().Begin(Context(username: "user")), RfcClientFirst);
        var other = await StepAsync(RfcAuthenticator().Begin(Context(username: "admin")), RfcClientFirst);

        Assert.Equal(AuthOutcome.Continue, same.Outcome);
        Assert.Equal(AuthOutcome.Failure, other.Outcome);
    }

    [Fact]
    public void CredentialFromPasswordMatchesTheRfcKeys()
    {
        // StoredKey/ServerKey derived independently by the test client's arithmetic (RFC 5802 section 3).
        Assert.Equal(Convert.FromBase64String(RfcSalt), RfcUser.Salt);
        Assert.Equal(4096, RfcUser.Iterations);
        Assert.Equal(32, RfcUser.StoredKey.Length);
        Assert.Equal(32, RfcUser.ServerKey.Length);
        Assert.NotEqual(RfcUser.Salt, ScramCredential.FromPassword("pencil").Salt);
        Assert.Throws<ArgumentOutOfRangeException>(() => ScramCredential.FromPassword("pencil", iterations: 0));
        Assert.Throws<ArgumentException>(() => ScramCredential.FromPassword("pencil", salt: []));
    }

    [Fact]
    public void StoreRejectsMalformedCredentials()
    {
        var store = new InMemoryScramCredentialStore();

        Assert.Throws<ArgumentException>(() => store.Set("u", new ScramCredential([1], 4096, new byte[31], new byte[32])));
        Assert.Throws<ArgumentException>(() => store.Set("", RfcUser));
        store.Set("u", RfcUser);
        Assert.True(store.TryGet("u", out var found));
        Assert.Same(RfcUser, found);
        Assert.False(store.TryGet("U", out _));
        Assert.True(store.Remove("u"));
        Assert.Equal(0, store.Count);
    }

    private static InMemoryScramCredentialStore RfcStore() => new([new("user", RfcUser)]);

    private static ScramSha256Authenticator RfcAuthenticator() => new(RfcStore(), () => RfcServerNonce, unknownUserKey: null);

    private static EnhancedAuthContext Context(string? username = null) => new("client", username, RemoteEndPoint: null, IsReauthentication: false);

    private static ValueTask<AuthStep> StepAsync(IEnhancedAuthExchange exchange, string message) =>
        exchange.StepAsync(Encoding.UTF8.GetBytes(message), CancellationToken.None);

    private static string Text(AuthStep step) => Encoding.UTF8.GetString(step.ServerData.Span);

    private static string Salt(string serverFirst) => serverFirst.Split(',')[1];
}
