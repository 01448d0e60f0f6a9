namespace Tern.Server;

/// <summary>A listener could not bind its address (typically: address already in use).</summary>
public sealed class TernListenerException : IOException
{
    public TernListenerException(string message, string listener, string address, int port, Exception? innerException = null)
        : base(message, innerException)
    {
        Listener = listener;
        Address = address;
        Port = port;
    }

    /// <summary>The listener's configuration section (<c>Listeners:Tcp</c>).</summary>
    public string Listener { get; }

    public string Address { get; }

    public int Port { get; }
}
