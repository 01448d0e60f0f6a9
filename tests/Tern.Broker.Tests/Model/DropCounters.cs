namespace Tern.Broker.Tests.Model;

/// <summary>
/// The broker's count of deliveries it gave up on, as the model's drop budget. One place, so that
/// when the broker counts drops per reason this can use only the reasons that lose a QoS 1/2
/// message owed to a session (queue overflow), not QoS 0 drops or oversized packets.
/// </summary>
internal static class DropCounters
{
    public static long OwedDeliveriesDropped(MqttBroker broker) => broker.Statistics.MessagesDropped;

    /// <summary>Every drop of any kind, for the runs that allow none.</summary>
    public static long AllDropped(MqttBroker broker) => broker.Statistics.MessagesDropped;
}
