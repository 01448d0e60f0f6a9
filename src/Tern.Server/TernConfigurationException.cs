namespace Tern.Server;

/// <summary>
/// A configuration value is missing, unparsable or out of range, or the config file is missing or malformed.
/// The message is one line meant for the user (e.g. <c>Invalid configuration: Broker:MaxInflight must be between 1 and 65535.</c>).
/// </summary>
public sealed class TernConfigurationException : Exception
{
    public TernConfigurationException(string message, string? key = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
    }

    /// <summary>The offending configuration key (<c>Broker:MaxInflight</c>), or null when the problem is a file.</summary>
    public string? Key { get; }
}
