namespace Tern.TestKit;

/// <summary>
/// Upper bounds for waiting on events. A passing test never waits for them; they only decide how long
/// a failing test takes. <see cref="Absence"/> is the one window used to assert that nothing arrives.
/// </summary>
public static class TestTimeouts
{
    /// <summary>How long to wait for a packet that must arrive.</summary>
    public static readonly TimeSpan Receive = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for the broker to close a connection it must close.</summary>
    public static readonly TimeSpan Close = TimeSpan.FromSeconds(5);

    /// <summary>The window in which "nothing arrives" is asserted.</summary>
    public static readonly TimeSpan Absence = TimeSpan.FromMilliseconds(300);

    /// <summary>External clients (mosquitto_sub, python) start a runtime; give them longer.</summary>
    public static readonly TimeSpan External = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan BrokerStart = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan BrokerStop = TimeSpan.FromSeconds(5);
}
