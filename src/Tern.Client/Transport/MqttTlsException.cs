using System.Security.Authentication;

namespace Tern.Client;

/// <summary>The TLS handshake failed; the message says why (untrusted certificate, name mismatch, ...).</summary>
public sealed class MqttTlsException : AuthenticationException
{
    public MqttTlsException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
