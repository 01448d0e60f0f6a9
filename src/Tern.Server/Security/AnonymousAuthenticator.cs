using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// The end of the authenticator chain. A client without a user name is accepted when anonymous access is
/// allowed and refused as not authorized otherwise. A user name from a verified client certificate is
/// accepted (TLS already proved it). Any other user name got here because no authenticator before could
/// check it (e.g. only JWT is configured and the password is not a token): bad credentials, since
/// accepting an unchecked name would let anyone claim another user's ACL rules. While nothing can
/// check names at all (no users file yet, no JWT), a named client is treated as an anonymous one.
/// </summary>
public sealed class AnonymousAuthenticator : IMqttAuthenticator
{
    public const string DisabledReason = "anonymous access is disabled";

    private readonly Func<bool> _namesChecked;

    /// <param name="allowAnonymous">Whether clients without a user name may connect.</param>
    /// <param name="namesChecked">Whether some authenticator checks user names now; null means always.</param>
    public AnonymousAuthenticator(bool allowAnonymous, Func<bool>? namesChecked = null)
    {
        AllowAnonymous = allowAnonymous;
        _namesChecked = namesChecked ?? (static () => true);
    }

    public bool AllowAnonymous { get; }

    public ValueTask<AuthenticationResult> AuthenticateAsync(ConnectCredentials credentials, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        AuthenticationResult result;
        if (credentials.UsernameFromCertificate && !string.IsNullOrEmpty(credentials.Username))
        {
            result = AuthenticationResult.Accept();
        }
        else if (string.IsNullOrEmpty(credentials.Username))
        {
            result = AllowAnonymous ? AuthenticationResult.Accept() : AuthenticationResult.NotAuthorized(DisabledReason);
        }
        else if (AllowAnonymous && !_namesChecked())
        {
            result = AuthenticationResult.Accept();
        }
        else
        {
            result = AuthenticationResult.BadCredentials(UsersAuthenticator.BadCredentialsReason);
        }

        return ValueTask.FromResult(result);
    }
}
