using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Protocol;

namespace Tern.Broker;

public sealed partial class MqttBroker
{
    private static readonly string BrokerVersion = typeof(MqttBroker).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    // "messages/dropped/queue_full" and the like, indexed by DropReason.
    private static readonly string[] SysDroppedTopics = [.. Enum.GetValues<DropReason>().Select(static r => "messages/dropped/" + DropReasonNames.Of(r))];

    private async Task TimerLoopAsync(CancellationToken cancellationToken)
    {
        var connectTimeoutMs = (long)(Options.ConnectTimeoutSeconds * 1000);
        var sysIntervalMs = (long)(Options.SysIntervalSeconds * 1000);
        var incompleteTimeoutMs = (long)(Options.IncompletePacketTimeoutSeconds * 1000);
        var writeTimeoutMs = (long)(Options.WriteTimeoutSeconds * 1000);
        // Fine enough for a 1 s keep alive or a sub-second CONNECT timeout, cheap for 100k connections.
        var tickMs = Math.Clamp(Math.Min(connectTimeoutMs, sysIntervalMs > 0 ? sysIntervalMs : long.MaxValue) / 4, 50, 250);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(tickMs), Time);
        var nextSys = NowMs;
        try
        {
            do
            {
                // Each step on its own: a throwing authorizer or will must not end keep-alive
                // enforcement, CONNECT timeouts, expiry and $SYS for good.
                var now = NowMs;
                try
                {
                    // Enumerated in place: Keys would copy every connection into a new array each tick,
                    // a large-object-heap array past about 10,000 connections.
                    foreach (var (connection, _) in _connections)
                    {
                        connection.CheckTimeouts(now, connectTimeoutMs, incompleteTimeoutMs, writeTimeoutMs);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Log.TimerStepFailed(_logger, ex, "connection timeouts");
                }

                try
                {
                    Sessions.OnTimer(now);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Log.TimerStepFailed(_logger, ex, "session expiry and delayed wills");
                }

                try
                {
                    Limiter.Sweep();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Log.TimerStepFailed(_logger, ex, "connection limiter sweep");
                }

                if (sysIntervalMs > 0 && now >= nextSys)
                {
                    nextSys = now + sysIntervalMs;
                    PublishSysTopics(now);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Retained <c>$SYS/broker/...</c> topics, named as Mosquitto names them.</summary>
    private void PublishSysTopics(long now)
    {
        try
        {
            var snapshot = GetSnapshot();
            var connected = snapshot.ConnectedClients;
            var sessions = snapshot.Sessions;
            Sys("version", "Tern version " + snapshot.Version);
            Sys("uptime", ((now - Statistics.StartTimestamp) / 1000).ToString(CultureInfo.InvariantCulture) + " seconds");
            Sys("clients/connected", connected);
            Sys("clients/active", connected);
            Sys("clients/total", sessions);
            Sys("clients/disconnected", Math.Max(0, sessions - connected));
            Sys("messages/received", snapshot.MessagesReceived);
            Sys("messages/sent", snapshot.MessagesSent);
            Sys("messages/dropped", snapshot.MessagesDropped);
            foreach (var (reason, count) in snapshot.Dropped)
            {
                Sys(SysDroppedTopics[(int)reason], count);
            }

            Sys("bytes/received", snapshot.BytesReceived);
            Sys("bytes/sent", snapshot.BytesSent);
            Sys("subscriptions/count", snapshot.Subscriptions);
            Sys("retained messages/count", snapshot.RetainedMessages);
            Sys("clients/slow_consumers_closed", snapshot.SlowConsumersClosed);
            Sys("errors/internal", snapshot.InternalErrors);
            Sys("errors/protocol", snapshot.ProtocolErrors);

            // Only with a store: in memory mode there is nothing to report, and a zero size would
            // read as an empty store.
            if (GetStoreSnapshot() is { } store)
            {
                Sys("store/size", store.SizeBytes);
                Sys("store/commits", store.Commits);
                Sys("store/rows", store.RowsWritten);
                Sys("store/status", store.Failure ?? "ok");
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.SysUpdateFailed(_logger, ex);
        }
    }

    private void Sys(string name, long value) => Sys(name, value.ToString(CultureInfo.InvariantCulture));

    private void Sys(string name, string value)
    {
        var message = new ApplicationMessage("$SYS/broker/" + name, Encoding.UTF8.GetBytes(value), MqttQoS.AtMostOnce, retain: true, null, null, NowMs);
        if (Index.Match(message.Topic) is { Targets.Length: 0, Groups.Length: 0 })
        {
            // Only kept for later subscribers: the broker's own report is not a publish nobody
            // wanted, and would otherwise add a no_subscribers drop per topic every interval.
            if (!Retained.Set(message))
            {
                Dropped(DropReason.RetainedStoreFull, null);
            }

            return;
        }

        Route(message);
    }
}
