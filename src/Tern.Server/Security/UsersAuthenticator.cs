using System.Collections.Concurrent;
using System.Security.Cryptography;
using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// Checks CONNECT user name and password against the <see cref="UsersStore"/>. A CONNECT without a user
/// name, or whose user name came from a client certificate, is not this authenticator's business.
/// A wrong password and an unknown user get the same answer after the same amount of work.
/// </summary>
public sealed class UsersAuthenticator : IMqttAuthenticator
{
    /// <summary>The reason of every refusal, so the answer never tells whether the user exists.</summary>
    public const string BadCredentialsReason = "bad user name or password";

    // Bounds the verified-password cache; it is cleared when full rather than tracked per entry.
    private const int MaxCachedLogins = 10_000;

    private readonly UsersStore _store;

    // PBKDF2 is deliberately slow; at most this many run at once so a burst of CONNECTs (or a password
    // guesser) cannot take every thread-pool thread from the rest of the broker.
    private readonly SemaphoreSlim _verifySlots = new(Math.Max(1, Environment.ProcessorCount));

    // Reconnects of a device with the right password skip PBKDF2: user -> (hash it was checked against,
    // HMAC of the password under a per-process key). A changed hash in the file invalidates the entry.
    private readonly ConcurrentDictionary<string, (string Hash, byte[] Mac)> _verified = new(StringComparer.Ordinal);
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);

    public UsersAuthenticator(UsersStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    public async ValueTask<AuthenticationResult> AuthenticateAsync(ConnectCredentials credentials, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        if (string.IsNullOrEmpty(credentials.Username) || credentials.UsernameFromCertificate)
        {
            return AuthenticationResult.NotHandled;
        }

        var username = credentials.Username;
        var password = credentials.Password ?? ReadOnlyMemory<byte>.Empty;
        var known = _store.TryGetHash(username, out var hash, out var dummyHash);
        if (!_store.IsInForce)
        {
            // The default users file does not exist yet: nothing to check the name against.
            return AuthenticationResult.NotHandled;
        }

        if (known && IsCached(username, hash, password.Span))
        {
            return AuthenticationResult.Accept();
        }

        await _verifySlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool matches;
        try
        {
            // Off the connection's read loop, which may run on a socket I/O thread.
            matches = await Task.Run(() => UsersPasswordHash.Verify(password.Span, known ? hash : dummyHash), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _verifySlots.Release();
        }

        if (!(known & matches))
        {
            return AuthenticationResult.BadCredentials(BadCredentialsReason);
        }

        Remember(username, hash, password.Span);
        return AuthenticationResult.Accept();
    }

    private bool IsCached(string username, string hash, ReadOnlySpan<byte> password) =>
        _verified.TryGetValue(username, out var entry)
        && string.Equals(entry.Hash, hash, StringComparison.Ordinal)
        && CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(_cacheKey, password), entry.Mac);

    private void Remember(string username, string hash, ReadOnlySpan<byte> password)
    {
        if (_verified.Count >= MaxCachedLogins)
        {
            _verified.Clear();
        }

        _verified[username] = (hash, HMACSHA256.HashData(_cacheKey, password));
    }
}
