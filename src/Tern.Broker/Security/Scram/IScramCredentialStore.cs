using System.Diagnostics.CodeAnalysis;

namespace Tern.Broker;

/// <summary>Looks up SCRAM credentials by user name; called once per SCRAM exchange, from many connections at once.</summary>
public interface IScramCredentialStore
{
    /// <summary>Finds the credential of <paramref name="username"/> (the name as the client sent it, unescaped).</summary>
    bool TryGet(string username, [MaybeNullWhen(false)] out ScramCredential credential);
}
