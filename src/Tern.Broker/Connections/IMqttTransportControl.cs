namespace Tern.Broker;

/// <summary>
/// What the broker asks of a transport besides its pipes, for a transport that implements it on its
/// connection object (<see cref="MqttConnectionInfo.Control"/>) rather than allocate the
/// <see cref="MqttConnectionInfo.Abort"/> and <see cref="MqttConnectionInfo.ShutdownSend"/>
/// delegates for every connection.
/// </summary>
public interface IMqttTransportControl
{
    /// <summary>Closes the transport at once (protocol violations, takeover, a writer that cannot send).</summary>
    void Abort();

    /// <summary>Closes the sending direction only (TCP FIN) after the broker told the client why it ends.</summary>
    void ShutdownSend();

    /// <summary>
    /// The broker is done with the connection (its will and session are settled, or it never took
    /// the connection): the transport closes it. Called once, just before the task of
    /// <see cref="MqttBroker.HandleConnectionAsync"/> completes, so that a transport need not put a
    /// continuation on that task for every connection.
    /// </summary>
    void Completed();
}
