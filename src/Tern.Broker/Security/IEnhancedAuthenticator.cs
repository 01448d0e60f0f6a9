using System.Net;

namespace Tern.Broker;

/// <summary>
/// An MQTT 5 enhanced authentication method (spec 4.12): CONNECT and AUTH packets carrying
/// <c>Authentication Method</c> and <c>Authentication Data</c> until the method succeeds or fails.
/// Register implementations with <see cref="MqttBroker"/>; one exchange runs per CONNECT or
/// re-authentication.
/// </summary>
public interface IEnhancedAuthenticator
{
    /// <summary>The authentication method name, e.g. <c>SCRAM-SHA-256</c>.</summary>
    string Method { get; }

    /// <summary>Starts the exchange for one CONNECT or re-authentication.</summary>
    IEnhancedAuthExchange Begin(EnhancedAuthContext context);
}

/// <summary>One challenge/response exchange; <see cref="StepAsync"/> is called once per client message.</summary>
public interface IEnhancedAuthExchange
{
    /// <summary>Processes the client's authentication data and says what comes next.</summary>
    ValueTask<AuthStep> StepAsync(ReadOnlyMemory<byte> clientData, CancellationToken cancellationToken);
}

/// <summary>Who is authenticating.</summary>
/// <param name="ClientId">Client identifier from CONNECT (possibly assigned later when empty).</param>
/// <param name="Username">User name from CONNECT, if any.</param>
/// <param name="RemoteEndPoint">The client's address.</param>
/// <param name="IsReauthentication">True for an AUTH 0x19 after the connection was accepted.</param>
public sealed record EnhancedAuthContext(string ClientId, string? Username, EndPoint? RemoteEndPoint, bool IsReauthentication);

/// <summary>What an exchange step decided.</summary>
public enum AuthOutcome
{
    /// <summary>Send the server data in AUTH 0x18 and wait for the client's next AUTH.</summary>
    Continue,

    /// <summary>Authenticated; the server data goes into CONNACK (or AUTH 0x00 on re-authentication).</summary>
    Success,

    /// <summary>Refused: CONNACK 0x87/0x86 (or DISCONNECT on re-authentication).</summary>
    Failure,
}

/// <summary>The result of one exchange step.</summary>
/// <param name="Outcome">Continue, success or failure.</param>
/// <param name="ServerData">Authentication data for the client (challenge, or final proof).</param>
/// <param name="User">The authenticated user name on success.</param>
/// <param name="Reason">Why it failed, for the log and the reason string.</param>
public readonly record struct AuthStep(AuthOutcome Outcome, ReadOnlyMemory<byte> ServerData, string? User = null, string? Reason = null)
{
    public static AuthStep Continue(ReadOnlyMemory<byte> serverData) => new(AuthOutcome.Continue, serverData);

    public static AuthStep Succeeded(ReadOnlyMemory<byte> serverData, string? user) => new(AuthOutcome.Success, serverData, user);

    public static AuthStep Failed(string reason) => new(AuthOutcome.Failure, ReadOnlyMemory<byte>.Empty, null, reason);
}
