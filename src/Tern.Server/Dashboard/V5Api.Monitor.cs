using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Broker;
using Tern.Server.Persistence;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    private void MapMonitor(RouteGroupBuilder api)
    {
        api = api.MapGroup(string.Empty).WithTags("Monitoring");
        api.MapGet("/stats", Stats);
        api.MapGet("/metrics", Metrics);
        api.MapGet("/nodes", Nodes);
        api.MapGet("/nodes/{node}", Node);
        api.MapGet("/listeners", Listeners);
    }

    /// <summary>
    /// <c>GET /api/v5/stats</c>: EMQX's dotted counters that Tern has; a list with one item per node
    /// (one node) unless <c>aggregate=true</c> asks for the sum as one object.
    /// </summary>
    private IResult Stats(HttpContext context)
    {
        var s = broker.GetSnapshot();
        var routes = broker.GetSubscriptions().Select(RouteOf).Distinct(StringComparer.Ordinal).Count();
        var shared = broker.GetSubscriptions().Count(static x => x.ShareGroup is not null);
        var stats = new JsonObject
        {
            ["connections.count"] = s.ConnectedClients,
            ["live_connections.count"] = s.ConnectedClients,
            ["sessions.count"] = s.Sessions,
            ["subscriptions.count"] = s.Subscriptions,
            ["subscriptions.shared.count"] = shared,
            ["suboptions.count"] = s.Subscriptions,
            ["subscribers.count"] = s.Subscriptions,
            ["topics.count"] = routes,
            ["retained.count"] = broker.CountRetainedMessages(),
        };
        return PerNode(context, stats);
    }

    /// <summary><c>GET /api/v5/metrics</c>: EMQX's message, byte and client counters that Tern counts.</summary>
    private IResult Metrics(HttpContext context)
    {
        var s = broker.GetSnapshot();
        var metrics = new JsonObject
        {
            ["bytes.received"] = s.BytesReceived,
            ["bytes.sent"] = s.BytesSent,
            ["messages.received"] = s.MessagesReceived,
            ["messages.sent"] = s.MessagesSent,
            ["messages.dropped"] = s.MessagesDropped,
        };
        foreach (var reason in DropReasonNames.All)
        {
            metrics["messages.dropped." + DropReasonNames.Of(reason)] = s.Dropped.TryGetValue(reason, out var count) ? count : 0;
        }

        metrics["client.connect"] = s.ConnectionsTotal;
        metrics["client.connack.failure"] = s.ConnectionsRefused;
        metrics["packets.malformed"] = s.ProtocolErrors;

        // Tern's own: connections it closed itself, which EMQX does not count apart.
        metrics["client.closed.internal_error"] = s.InternalErrors;
        metrics["client.closed.slow_consumer"] = s.SlowConsumersClosed;
        return PerNode(context, metrics);
    }

    /// <summary><c>GET /api/v5/nodes</c>: Tern runs as one node.</summary>
    private IResult Nodes() => TypedResults.Text(new JsonArray(NodeInfo()).ToJsonString(), "application/json");

    private IResult Node(HttpContext context)
    {
        var node = context.Request.RouteValues["node"] as string ?? "";
        return node == NodeName
            ? TypedResults.Text(NodeInfo().ToJsonString(), "application/json")
            : Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"node: no node '{node}'; this broker is the single node {NodeName}.");
    }

    /// <summary><c>GET /api/v5/listeners</c>: the MQTT listeners, EMQX's <c>id</c> as <c>type:name</c>.</summary>
    private IResult Listeners()
    {
        var list = new JsonArray();
        foreach (var endpoint in management.Listeners())
        {
            var type = endpoint.Scheme switch
            {
                "mqtts" => "ssl",
                "ws" => "ws",
                "wss" => "wss",
                _ => "tcp",
            };
            var bind = endpoint.EndPoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? $"[{endpoint.EndPoint.Address}]:{endpoint.EndPoint.Port}"
                : $"{endpoint.EndPoint.Address}:{endpoint.EndPoint.Port}";
            var listener = new JsonObject
            {
                ["id"] = $"{type}:{endpoint.Name}",
                ["type"] = type,
                ["name"] = endpoint.Name,
                ["bind"] = bind,
                ["enable"] = true,
                ["running"] = true,
                ["url"] = endpoint.Url,
                ["config_section"] = endpoint.ConfigSection,
            };
            if (endpoint.Path.Length > 0)
            {
                listener["websocket"] = new JsonObject { ["mqtt_path"] = endpoint.Path };
            }

            list.Add(listener);
        }

        return TypedResults.Text(list.ToJsonString(), "application/json");
    }

    private JsonObject NodeInfo()
    {
        var s = broker.GetSnapshot();
        using var process = Process.GetCurrentProcess();
        return new JsonObject
        {
            ["node"] = NodeName,
            ["node_status"] = "running",
            ["version"] = s.Version,
            ["edition"] = "Opensource",
            ["role"] = "core",
            ["uptime"] = (long)s.Uptime.TotalMilliseconds,
            ["connections"] = s.ConnectedClients,
            ["live_connections"] = s.ConnectedClients,
            ["memory_used"] = process.WorkingSet64,
            ["memory_total"] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            ["process_used"] = process.Threads.Count,
            ["sys_path"] = AppContext.BaseDirectory,
            ["otp_release"] = "dotnet " + Environment.Version,
            ["store"] = Store(),
        };
    }

    /// <summary>Tern's own member of a node: its store, or null when it keeps nothing (memory mode).</summary>
    private JsonObject? Store()
    {
        if (broker.GetStoreSnapshot() is not { } store)
        {
            return null;
        }

        return new JsonObject
        {
            ["mode"] = management.StoreMode switch
            {
                PersistenceMode.Strict => "strict",
                PersistenceMode.Durable => "durable",
                _ => "memory",
            },
            ["path"] = store.Location,
            ["size_bytes"] = store.SizeBytes,
            ["commits"] = store.Commits,
            ["rows_written"] = store.RowsWritten,
            ["last_commit"] = store.LastCommit is { } at ? Rfc3339(at) : null,
            ["failure"] = store.Failure,
        };
    }

    /// <summary>EMQX's <c>aggregate</c>: false (the default) is a list of per-node objects naming their node.</summary>
    private static IResult PerNode(HttpContext context, JsonObject values)
    {
        switch (context.Request.Query["aggregate"].ToString())
        {
            case "true":
                return TypedResults.Text(values.ToJsonString(), "application/json");
            case "" or "false":
                var withNode = new JsonObject { ["node"] = NodeName };
                foreach (var (name, value) in values)
                {
                    withNode[name] = value?.DeepClone();
                }

                return TypedResults.Text(new JsonArray(withNode).ToJsonString(), "application/json");
            case var other:
                return BadRequest("aggregate", $"aggregate must be true or false, not '{other}'.");
        }
    }
}
