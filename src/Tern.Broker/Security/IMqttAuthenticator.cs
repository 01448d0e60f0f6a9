using System.Net;
using System.Security.Cryptography.X509Certificates;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Decides whether a CONNECT's credentials are accepted. The broker asks its authenticators in
/// order; the first that does not answer <see cref="AuthenticationOutcome.NotHandled"/> decides.
/// With no authenticator registered every client is accepted. Implementations: the user store,
/// JWT, anonymous access, HTTP callouts.
/// </summary>
public interface IMqttAuthenticator
{
    ValueTask<AuthenticationResult> AuthenticateAsync(ConnectCredentials credentials, CancellationToken cancellationToken);
}

/// <summary>What a client presented on CONNECT, and what the transport knows about it.</summary>
/// <param name="ClientId">Client identifier (assigned already when the client sent an empty one).</param>
/// <param name="Username">CONNECT user name, or the certificate user name when the listener maps it.</param>
/// <param name="Password">CONNECT password.</param>
/// <param name="RemoteEndPoint">The client's address (after PROXY protocol).</param>
/// <param name="Listener">Listener name: tcp, tls, ws, wss.</param>
/// <param name="ProtocolVersion">MQTT version of the CONNECT.</param>
/// <param name="ClientCertificate">Mutual TLS client certificate, if any.</param>
/// <param name="UsernameFromCertificate">The user name came from the client certificate.</param>
public sealed record ConnectCredentials(
    string ClientId,
    string? Username,
    ReadOnlyMemory<byte>? Password,
    EndPoint? RemoteEndPoint,
    string Listener,
    MqttProtocolVersion ProtocolVersion,
    X509Certificate2? ClientCertificate,
    bool UsernameFromCertificate);

/// <summary>The decision of one authenticator.</summary>
public enum AuthenticationOutcome
{
    /// <summary>Not mine: ask the next authenticator.</summary>
    NotHandled,

    /// <summary>Accepted.</summary>
    Success,

    /// <summary>Wrong user name or password: CONNACK 0x04 (3.1.1) / 0x86 (5.0).</summary>
    BadCredentials,

    /// <summary>Known but not allowed: CONNACK 0x05 (3.1.1) / 0x87 (5.0).</summary>
    NotAuthorized,
}

/// <summary>An authenticator's answer.</summary>
/// <param name="Outcome">The decision.</param>
/// <param name="Username">The user the client is known as from now on (ACL <c>%u</c>), when it differs from CONNECT's.</param>
/// <param name="Rules">Extra access rules for this client only (e.g. from JWT claims), checked before the global ACL.</param>
/// <param name="Reason">Why, for the log (and the reason string of an MQTT 5 refusal).</param>
public readonly record struct AuthenticationResult(
    AuthenticationOutcome Outcome,
    string? Username = null,
    IReadOnlyList<AccessRule>? Rules = null,
    string? Reason = null)
{
    public static AuthenticationResult NotHandled => new(AuthenticationOutcome.NotHandled);

    public static AuthenticationResult Accept(string? username = null, IReadOnlyList<AccessRule>? rules = null) => new(AuthenticationOutcome.Success, username, rules);

    public static AuthenticationResult BadCredentials(string reason) => new(AuthenticationOutcome.BadCredentials, Reason: reason);

    public static AuthenticationResult NotAuthorized(string reason) => new(AuthenticationOutcome.NotAuthorized, Reason: reason);
}
