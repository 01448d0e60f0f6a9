namespace Tern.Fuzz;

/// <summary>A fuzz target found a bug: an unexpected exception, a broken invariant or a hang.</summary>
public sealed class FuzzCrashException : Exception
{
    public FuzzCrashException()
    {
    }

    public FuzzCrashException(string message)
        : base(message)
    {
    }

    public FuzzCrashException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
