using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>How a CONNECT was asked for, and what the model expects of its CONNACK.</summary>
/// <param name="CleanStart">Clean session (3.1.1) or clean start (5.0).</param>
/// <param name="Persistent">The session outlives the connection (3.1.1 clean session 0, 5.0 session expiry above 0).</param>
/// <param name="ExpectSessionPresent">null where the specification leaves it to the broker.</param>
/// <param name="ReceiveMaximum">MQTT 5 receive maximum announced in CONNECT, if any.</param>
internal sealed record ConnectIntent(bool CleanStart, bool Persistent, bool? ExpectSessionPresent, ushort? ReceiveMaximum);

/// <summary>A SUBSCRIBE or UNSUBSCRIBE waiting for its answer.</summary>
internal sealed record PendingRequest(string Filter, SubscriptionChange Change, TaskCompletionSource<MqttPacket> Answer);

/// <summary>One connection of an actor, with the session incarnation it serves (known at CONNACK).</summary>
internal sealed class ModelLink(ModelConnection connection, ConnectIntent intent, long connectStamp)
{
    public ModelConnection Connection { get; } = connection;

    public ConnectIntent Intent { get; } = intent;

    /// <summary>Stamp taken before CONNECT was written.</summary>
    public long ConnectStamp { get; } = connectStamp;

    /// <summary>
    /// The previous connection of the client, closed or closing. Everything the broker sent on it
    /// was sent before what it sends here, so its packets are handled first: a client reading both
    /// at once could see a QoS 2 resend here, release it, and then take the original there for a
    /// new message.
    /// </summary>
    public Task Previous { get; init; } = Task.CompletedTask;

    /// <summary>Stamp of the CONNACK.</summary>
    public long ConnAckStamp { get; set; }

    /// <summary>Set on CONNACK, on the read loop, before any later packet is handled.</summary>
    public Epoch? Epoch { get; set; }

    public TaskCompletionSource<ConnAckPacket> ConnAck { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>SUBSCRIBE/UNSUBSCRIBE by packet id; guarded by the model lock.</summary>
    public Dictionary<ushort, PendingRequest> Requests { get; } = [];

    /// <summary>Serialises acknowledgements so that held ones go out before newer ones [MQTT-4.6.0-2].</summary>
    public SemaphoreSlim AckGate { get; } = new(1, 1);

    /// <summary>While set, PUBACK and PUBREC are kept instead of sent (the broker's window fills up).</summary>
    public bool Holding { get; set; }

    public List<MqttPacket> HeldAcks { get; } = [];

    /// <summary>
    /// Packet ids of PUBLISHes received on this connection that we have not finished acknowledging
    /// (QoS 1: PUBACK not sent; QoS 2: PUBCOMP not sent). The broker's count of unacknowledged
    /// PUBLISHes is at least this, so this above the window is a broker fault.
    /// </summary>
    public HashSet<ushort> Unacknowledged { get; } = [];

    /// <summary>Stamp taken before we started closing it (abort, DISCONNECT).</summary>
    public long? ClosingFrom { get; set; }

    /// <summary>The broker is about to close it (taken over): not a fault when it does.</summary>
    public bool ExpectClose { get; set; }

    public int Id => Connection.Id;

    /// <summary>Neither side has closed it (as far as we know).</summary>
    public bool IsOpen => !Connection.IsClosed && !Connection.ClosedByUs;
}
