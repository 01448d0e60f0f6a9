using System.CommandLine;
using Spectre.Console;
using System.Text.Json;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateClients() => new("clients", "Connected clients and the kept sessions of disconnected ones.")
    {
        CreateClientsList(),
        CreateClientsShow(),
        CreateClientsKick(),
    };

    private static Argument<string> ClientIdArgument() => new("clientid") { Description = "The client id." };

    private static string ClientPath(string clientId) => "/api/v5/clients/" + Uri.EscapeDataString(clientId);

    private static string NoClient(string clientId) => $"No client '{clientId}': none is connected with that id and no session is kept for it.";

    private static Command CreateClientsList()
    {
        var clientId = new Option<string?>("--clientid") { Description = "Only the client with this id.", HelpName = "id" };
        var username = new Option<string?>("--username") { Description = "Only clients of this user.", HelpName = "user" };
        var like = new Option<string?>("--like-clientid") { Description = "Only clients whose id contains this text.", HelpName = "text" };
        var state = new Option<string?>("--conn-state") { Description = "connected, or disconnected (kept sessions).", HelpName = "state" };
        var page = new PageOptions();
        var command = new Command("list", "List clients (GET /api/v5/clients), sorted by client id.") { clientId, username, like, state };
        page.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var query = new CtlQuery();
            query.Add("clientid", result.GetValue(clientId));
            query.Add("username", result.GetValue(username));
            query.Add("like_clientid", result.GetValue(like));
            query.Add("conn_state", result.GetValue(state));
            page.AddTo(query, result);
            var answer = await api.GetAsync("/api/v5/clients" + query, ct).ConfigureAwait(false);
            var clients = answer.Json("GET /api/v5/clients");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = CtlOutput.NewTable("client id", "user", "state", "address", "mqtt", "subs", "inflight", "queued", "msgs in", "msgs out", "since");
            foreach (var client in clients.GetProperty("data").EnumerateArray())
            {
                var connected = client.TryGetProperty("connected", out var c) && c.ValueKind == JsonValueKind.True;
                CtlOutput.AddRow(
                    table,
                    CtlOutput.Text(client, "clientid"),
                    CtlOutput.Text(client, "username"),
                    connected ? "connected" : "disconnected",
                    connected ? $"{CtlOutput.Text(client, "ip_address")}:{CtlOutput.Text(client, "port")}" : "-",
                    MqttVersion(client),
                    CtlOutput.Number(client, "subscriptions_cnt"),
                    CtlOutput.Number(client, "inflight_cnt"),
                    CtlOutput.Number(client, "mqueue_len"),
                    CtlOutput.Number(client, "recv_msg"),
                    CtlOutput.Number(client, "send_msg"),
                    CtlOutput.Text(client, connected ? "connected_at" : "disconnected_at"));
            }

            table.Caption(CtlOutput.PageCaption(clients, "client") ?? "");
            output.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateClientsShow()
    {
        var clientId = ClientIdArgument();
        var command = new Command("show", "Show one client and its subscriptions (GET /api/v5/clients/{clientid}).") { clientId };
        SetAction(command, async (result, api, output, ct) =>
        {
            var id = result.GetValue(clientId)!;
            var answer = await api.GetAsync(ClientPath(id), ct, () => NoClient(id)).ConfigureAwait(false);
            var client = answer.Json("GET /api/v5/clients/{clientid}");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            output.Write(CtlOutput.PropertiesTable(client));
            var subscriptions = (await api.GetAsync(ClientPath(id) + "/subscriptions", ct, () => NoClient(id)).ConfigureAwait(false))
                .Json("GET /api/v5/clients/{clientid}/subscriptions");
            output.Write(SubscriptionsTable(subscriptions.EnumerateArray()));
            return 0;
        });
        return command;
    }

    private static Command CreateClientsKick()
    {
        var clientId = ClientIdArgument();
        var command = new Command("kick", "Disconnect a client, or discard the kept session of a disconnected one (DELETE /api/v5/clients/{clientid}).") { clientId };
        SetAction(command, async (result, api, output, ct) =>
        {
            var id = result.GetValue(clientId)!;

            // Asked first only to say which of the two happened.
            var client = (await api.GetAsync(ClientPath(id), ct, () => NoClient(id)).ConfigureAwait(false)).Json("GET /api/v5/clients/{clientid}");
            var connected = client.TryGetProperty("connected", out var c) && c.ValueKind == JsonValueKind.True;
            await api.DeleteAsync(ClientPath(id), ct, () => NoClient(id)).ConfigureAwait(false);
            CtlOutput.Confirm(connected ? $"Kicked '{id}': its connection is closed." : $"Discarded the kept session of '{id}'.");
            return 0;
        });
        return command;
    }

    private static Command CreateSubscriptions()
    {
        var list = new Command("list", "List subscriptions (GET /api/v5/subscriptions), sorted by client id then filter.");
        var clientId = new Option<string?>("--clientid") { Description = "Only the subscriptions of this client.", HelpName = "id" };
        var topic = new Option<string?>("--topic") { Description = "Only subscriptions to this filter, exactly as subscribed.", HelpName = "filter" };
        var page = new PageOptions();
        list.Options.Add(clientId);
        list.Options.Add(topic);
        page.AddTo(list);
        SetAction(list, async (result, api, output, ct) =>
        {
            var query = new CtlQuery();
            query.Add("clientid", result.GetValue(clientId));
            query.Add("topic", result.GetValue(topic));
            page.AddTo(query, result);
            var answer = await api.GetAsync("/api/v5/subscriptions" + query, ct).ConfigureAwait(false);
            var subscriptions = answer.Json("GET /api/v5/subscriptions");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = SubscriptionsTable(subscriptions.GetProperty("data").EnumerateArray());
            table.Caption(CtlOutput.PageCaption(subscriptions, "subscription") ?? "");
            output.Write(table);
            return 0;
        });
        return new Command("subscriptions", "The subscriptions of every session.") { list };
    }

    private static Table SubscriptionsTable(IEnumerable<JsonElement> subscriptions)
    {
        var table = CtlOutput.NewTable("client id", "filter", "qos", "no local", "retain as published", "retain handling");
        foreach (var s in subscriptions)
        {
            CtlOutput.AddRow(
                table,
                CtlOutput.Text(s, "clientid"),
                CtlOutput.Text(s, "topic"),
                CtlOutput.Text(s, "qos"),
                Flag(s, "nl"),
                Flag(s, "rap"),
                CtlOutput.Text(s, "rh"));
        }

        return table;
    }

    private static string Flag(JsonElement item, string name) => CtlOutput.Text(item, name) switch
    {
        "1" => "yes",
        "0" => "no",
        var other => other,
    };

    /// <summary>The MQTT version from EMQX's <c>proto_ver</c> (3, 4, 5).</summary>
    private static string MqttVersion(JsonElement client) => CtlOutput.Text(client, "proto_ver") switch
    {
        "3" => "3.1",
        "4" => "3.1.1",
        "5" => "5.0",
        var other => other,
    };
}
