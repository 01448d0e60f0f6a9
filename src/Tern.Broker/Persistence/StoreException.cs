namespace Tern.Broker.Persistence;

/// <summary>A store cannot be opened or read; the message names the file, the problem and what to do.</summary>
public sealed class StoreException : Exception
{
    public StoreException(string message)
        : base(message)
    {
    }

    public StoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
