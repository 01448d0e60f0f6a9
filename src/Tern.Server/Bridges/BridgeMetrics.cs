using System.Diagnostics.Metrics;

namespace Tern.Server.Bridges;

/// <summary>
/// Each bridge's figures as instruments on the broker's meter, labelled <c>name</c> with the
/// bridge's name: Prometheus sees <c>tern_bridge_connected{name="cloud"} 1</c>. Observable, like
/// the broker's: a scrape reads <see cref="Bridge.Status"/>, so bridges added or removed by a
/// reload appear and disappear without re-creating anything.
/// </summary>
internal static class BridgeMetrics
{
    /// <summary>Adds the bridge instruments of <paramref name="bridges"/> to <paramref name="meter"/>.</summary>
    public static void Register(Meter meter, BridgeService bridges)
    {
        meter.CreateObservableUpDownCounter("tern.bridge.connected", () => Each(bridges, static s => s.Connected ? 1 : 0), "", "1 while the bridge is connected to its remote, else 0.");
        meter.CreateObservableUpDownCounter("tern.bridge.queued", () => Each(bridges, static s => s.Queued), "{message}", "Messages held for the remote: not yet sent, or sent and not yet acknowledged.");
        meter.CreateObservableUpDownCounter("tern.bridge.queued.max", () => Each(bridges, static s => s.MaxQueued), "{message}", "The bridge's MaxQueued: more are dropped.");
        meter.CreateObservableCounter("tern.bridge.messages.sent", () => Each(bridges, static s => s.Sent), "{message}", "Messages the remote acknowledged (QoS 1/2), plus QoS 0 messages queued for it.");
        meter.CreateObservableCounter("tern.bridge.messages.received", () => Each(bridges, static s => s.Received), "{message}", "Messages from the remote published into this broker.");
        meter.CreateObservableCounter("tern.bridge.messages.dropped", () => Each(bridges, static s => s.Dropped), "{message}", "Messages not forwarded: the queue was full, or the remote refused them.");
    }

    private static Measurement<long>[] Each(BridgeService service, Func<BridgeStatus, long> figure)
    {
        var bridges = service.Bridges;
        var measurements = new Measurement<long>[bridges.Count];
        for (var i = 0; i < measurements.Length; i++)
        {
            var status = bridges[i].Status();
            measurements[i] = new Measurement<long>(figure(status), new KeyValuePair<string, object?>("name", status.Name));
        }

        return measurements;
    }
}
