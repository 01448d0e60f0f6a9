using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Tern.Broker;

/// <summary>What the transport knows about a connection the broker is given.</summary>
/// <param name="ConnectionId">Transport connection id, for logs.</param>
/// <param name="RemoteEndPoint">The client's address.</param>
/// <param name="LocalEndPoint">The listener address the client reached.</param>
/// <param name="Listener">Listener name (<c>tcp</c>, <c>tls</c>, <c>ws</c>, ...).</param>
/// <param name="Abort">Closes the transport at once (the broker calls it on protocol violations and takeover).</param>
public sealed record MqttConnectionInfo(
    string ConnectionId,
    EndPoint? RemoteEndPoint,
    EndPoint? LocalEndPoint,
    string Listener,
    Action? Abort)
{
    /// <summary>Closes the sending direction only (TCP FIN), when the transport can; the broker
    /// half-closes after telling a client why it ends the connection.</summary>
    public Action? ShutdownSend { get; init; }

    /// <summary>Abort and half-close as methods of the transport's connection; when set, the broker
    /// calls it instead of <see cref="Abort"/> and <see cref="ShutdownSend"/>.</summary>
    public IMqttTransportControl? Control { get; init; }

    /// <summary>The client certificate of a mutual TLS connection, if any.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// A user name the transport vouches for (the client certificate's CN or SAN when the
    /// listener has <c>PeerCertAsUsername</c>); it replaces the CONNECT user name.
    /// </summary>
    public string? CertificateUsername { get; init; }
}
