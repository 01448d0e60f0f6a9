using Tern.Broker;

namespace Tern.Server.Security;

/// <summary>
/// The end of the authenticator chain. A client without a user name is accepted when anonymous access is
/// allowed and refused as not authorized otherwise. A user name from a verified client certificate is
/// accepted (TLS already proved it). Any other user name got here because no authenticator before could
/// check it (e.g. only JWT is configured and the password is not a token): bad credentials, since
/// accepting an unchecked name would let anyone claim another user's ACL rules.
/// </summary>
public sealed class AnonymousAuthenticator : IMqttAuthenticator
{
    public const string DisabledReason = "anonymous access is disabled";

    public AnonymousAuthenticator(bool allowAnonymous)
    {
        AllowAnonymous = allowAnonymous;
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
        else
        {
            result = AuthenticationResult.BadCredentials(UsersAuthenticator.BadCredentialsReason);
        }

        return ValueTask.FromResult(result);
    }
}
