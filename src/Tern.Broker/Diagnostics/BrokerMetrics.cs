using System.Diagnostics.Metrics;

namespace Tern.Broker;

/// <summary>
/// The broker's figures as <see cref="System.Diagnostics.Metrics"/> instruments on a meter named
/// <see cref="MeterName"/>, for any listener (OpenTelemetry, <c>dotnet-counters</c>). Every
/// instrument is observable: it reads the counters the broker keeps anyway when a listener
/// collects, so publishing costs nothing more. Names follow OpenTelemetry; a Prometheus exporter
/// turns <c>tern.messages.received</c> into <c>tern_messages_received_total</c> (see docs/rest-api.md).
/// </summary>
public sealed class BrokerMetrics : IDisposable
{
    /// <summary>The meter's name, what a listener subscribes to.</summary>
    public const string MeterName = "Tern.Broker";

    private static readonly KeyValuePair<string, object?>[][] QoSTags =
    [
        [new("qos", "0")],
        [new("qos", "1")],
        [new("qos", "2")],
    ];

    private readonly MqttBroker _broker;
    private readonly KeyValuePair<string, object?>[][] _reasonTags;

    /// <summary>
    /// Creates the instruments for <paramref name="broker"/>. With <paramref name="meterFactory"/>
    /// (from dependency injection) the meter belongs to that factory, which tells it apart from the
    /// meter of another broker in the same process; without one it is a plain <see cref="Meter"/>.
    /// </summary>
    public BrokerMetrics(MqttBroker broker, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        _broker = broker;
        var options = new MeterOptions(MeterName) { Version = typeof(MqttBroker).Assembly.GetName().Version?.ToString(3) };
        Meter = meterFactory?.Create(options) ?? new Meter(options);

        var reasons = DropReasonNames.All;
        _reasonTags = new KeyValuePair<string, object?>[reasons.Length][];
        for (var i = 0; i < reasons.Length; i++)
        {
            _reasonTags[i] = [new("reason", DropReasonNames.Of(reasons[i]))];
        }

        var statistics = broker.Statistics;
        Meter.CreateObservableUpDownCounter("tern.connections", () => _broker.ConnectedClients, "{connection}", "Connections that completed CONNECT.");
        Meter.CreateObservableCounter("tern.connections.accepted", () => statistics.ConnectionsTotal, "{connection}", "Connections accepted since start.");
        Meter.CreateObservableCounter("tern.connections.refused", () => statistics.ConnectionsRefused, "{connection}", "Connections closed at accept by a limit or an address ban.");
        Meter.CreateObservableCounter("tern.authentication.failures", () => statistics.AuthenticationFailures, "{failure}", "CONNECTs refused by authentication and failed re-authentications.");
        Meter.CreateObservableUpDownCounter("tern.sessions", () => _broker.SessionCount, "{session}", "Sessions held, connected or not.");
        Meter.CreateObservableUpDownCounter("tern.subscriptions", () => _broker.SubscriptionCount, "{subscription}", "Subscriptions of all sessions.");
        Meter.CreateObservableUpDownCounter("tern.retained.messages", () => _broker.RetainedCount, "{message}", "Retained messages stored, $SYS topics included.");
        Meter.CreateObservableCounter("tern.messages.received", () => Messages(received: true), "{message}", "PUBLISH packets received from clients, by QoS.");
        Meter.CreateObservableCounter("tern.messages.sent", () => Messages(received: false), "{message}", "PUBLISH packets sent to clients, by QoS.");
        Meter.CreateObservableCounter("tern.received", () => Bytes(received: true), "By", "Bytes received from clients (every MQTT packet).");
        Meter.CreateObservableCounter("tern.sent", () => Bytes(received: false), "By", "Bytes sent to clients (every MQTT packet).");
        Meter.CreateObservableCounter("tern.messages.dropped", Dropped, "{message}", "Messages not delivered, by reason.");
        Meter.CreateObservableCounter("tern.protocol.errors", () => statistics.ProtocolErrors, "{connection}", "Connections closed for a protocol violation.");
        Meter.CreateObservableCounter("tern.slow_consumers.closed", () => statistics.SlowConsumersClosed, "{connection}", "Connections closed because their socket took nothing for Broker:WriteTimeoutSeconds.");
        Meter.CreateObservableCounter("tern.store.commits", () => Store(static s => s.Commits), "{commit}", "Batches the store wrote since start.");
        Meter.CreateObservableCounter("tern.store.rows", () => Store(static s => s.RowsWritten), "{row}", "Rows the store inserted, replaced or deleted since start.");
        Meter.CreateObservableUpDownCounter("tern.store.size", () => Store(static s => s.SizeBytes), "By", "Bytes the store takes on disk.");
        Meter.CreateObservableUpDownCounter("tern.store.failed", () => Store(static s => s.Failure is null ? 0 : 1), "", "1 while the store cannot write, else 0.");
    }

    /// <summary>The meter every instrument belongs to.</summary>
    public Meter Meter { get; }

    /// <summary>Disposes the meter: listeners stop reading this broker.</summary>
    public void Dispose() => Meter.Dispose();

    private Measurement<long>[] Messages(bool received)
    {
        Span<long> inbound = stackalloc long[QoSCounts.Length];
        Span<long> outbound = stackalloc long[QoSCounts.Length];
        _broker.CountTraffic(inbound, outbound, out _, out _);
        var counts = received ? inbound : outbound;
        var measurements = new Measurement<long>[QoSCounts.Length];
        for (var qos = 0; qos < measurements.Length; qos++)
        {
            measurements[qos] = new Measurement<long>(counts[qos], QoSTags[qos]);
        }

        return measurements;
    }

    private long Bytes(bool received)
    {
        Span<long> inbound = stackalloc long[QoSCounts.Length];
        Span<long> outbound = stackalloc long[QoSCounts.Length];
        _broker.CountTraffic(inbound, outbound, out var bytesReceived, out var bytesSent);
        return received ? bytesReceived : bytesSent;
    }

    private Measurement<long>[] Dropped()
    {
        var reasons = DropReasonNames.All;
        var measurements = new Measurement<long>[reasons.Length];
        for (var i = 0; i < reasons.Length; i++)
        {
            measurements[i] = new Measurement<long>(_broker.Statistics.Dropped(reasons[i]), _reasonTags[i]);
        }

        return measurements;
    }

    /// <summary>A store figure; no measurement when the broker has no store (memory mode).</summary>
    private Measurement<long>[] Store(Func<Persistence.StoreSnapshot, long> figure)
        => _broker.GetStoreSnapshot() is { } store ? [new Measurement<long>(figure(store))] : [];
}
