using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Tern.Broker;

/// <summary>
/// SCRAM credentials held in memory, keyed by user name (ordinal, case-sensitive: RFC 5802 compares names
/// as strings). Safe to change while clients authenticate.
/// </summary>
public sealed class InMemoryScramCredentialStore : IScramCredentialStore
{
    private readonly ConcurrentDictionary<string, ScramCredential> _users = new(StringComparer.Ordinal);

    public InMemoryScramCredentialStore()
    {
    }

    /// <summary>Creates a store holding <paramref name="users"/>; a repeated name keeps the last credential.</summary>
    public InMemoryScramCredentialStore(IEnumerable<KeyValuePair<string, ScramCredential>> users)
    {
        ArgumentNullException.ThrowIfNull(users);
        foreach (var (username, credential) in users)
        {
            Set(username, credential);
        }
    }

    /// <summary>The number of users.</summary>
    public int Count => _users.Count;

    /// <summary>Adds or replaces the credential of <paramref name="username"/>.</summary>
    public void Set(string username, ScramCredential credential)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentNullException.ThrowIfNull(credential);
        credential.Validate();
        _users[username] = credential;
    }

    /// <summary>Adds or replaces a user from a password (hashed at once; the password is not kept).</summary>
    public void SetPassword(string username, string password, int iterations = ScramCredential.DefaultIterations) =>
        Set(username, ScramCredential.FromPassword(password, iterations: iterations));

    /// <summary>Removes a user; exchanges already past the first message finish with the old credential.</summary>
    public bool Remove(string username) => _users.TryRemove(username, out _);

    public bool TryGet(string username, [MaybeNullWhen(false)] out ScramCredential credential) =>
        _users.TryGetValue(username, out credential);
}
