using System.CommandLine;
using Spectre.Console;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateBans() => new("bans", "Banned client ids, user names and addresses: their CONNECTs are refused.")
    {
        CreateBansList(),
        CreateBansAdd(),
        CreateBansDelete(),
    };

    /// <summary>EMQX's <c>as</c> of a ban: an address with a prefix length is a range (<c>peerhost_net</c>).</summary>
    private static string BanKind(string kind, string who)
        => kind == "peerhost" && who.Contains('/', StringComparison.Ordinal) ? "peerhost_net" : kind;

    private static Command CreateBansList()
    {
        var page = new PageOptions();
        var command = new Command("list", "List the bans (GET /api/v5/banned): configured ones (Broker:Bans), flapping ones and those added here.");
        page.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var query = new CtlQuery();
            page.AddTo(query, result);
            var answer = await api.GetAsync("/api/v5/banned" + query, ct).ConfigureAwait(false);
            var bans = answer.Json("GET /api/v5/banned");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = CtlOutput.NewTable("as", "who", "reason", "until");
            foreach (var ban in bans.GetProperty("data").EnumerateArray())
            {
                CtlOutput.AddRow(table, CtlOutput.Text(ban, "as"), CtlOutput.Text(ban, "who"), CtlOutput.Text(ban, "reason"), CtlOutput.Text(ban, "until"));
            }

            table.Caption(CtlOutput.PageCaption(bans, "ban") ?? "");
            output.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateBansAdd()
    {
        var clientId = new Option<string?>("--clientid") { Description = "Ban this client id (a connected client with it is disconnected).", HelpName = "id" };
        var username = new Option<string?>("--username") { Description = "Ban this user name.", HelpName = "user" };
        var peerHost = new Option<string?>("--peerhost") { Description = "Ban this address, or a range such as 192.0.2.0/24.", HelpName = "address" };
        var until = new Option<string?>("--until") { Description = "When the ban ends: a date and time such as 2026-12-31T00:00:00Z (default: never).", HelpName = "time" };
        var forDuration = new Option<string?>("--for") { Description = "How long the ban lasts, e.g. 30s, 10m, 2h, 7d (instead of --until).", HelpName = "duration" };
        var reason = new Option<string?>("--reason") { Description = "Why, kept with the ban and logged when a CONNECT is refused.", HelpName = "text" };
        var command = new Command("add", "Ban a client id, user name or address (POST /api/v5/banned); it takes effect at once.") { clientId, username, peerHost, until, forDuration, reason };
        SetAction(command, async (result, api, output, ct) =>
        {
            (string Kind, string? Who)[] given = [("clientid", result.GetValue(clientId)), ("username", result.GetValue(username)), ("peerhost", result.GetValue(peerHost))];
            var chosen = given.Where(static g => g.Who is not null).ToArray();
            if (chosen.Length != 1)
            {
                throw new CtlException("Give exactly one of --clientid, --username and --peerhost.");
            }

            var (kind, who) = (BanKind(chosen[0].Kind, chosen[0].Who!), chosen[0].Who!);
            var untilText = result.GetValue(until);
            var forText = result.GetValue(forDuration);
            if (untilText is not null && forText is not null)
            {
                throw new CtlException("Give --until or --for, not both.");
            }

            if (forText is not null)
            {
                untilText = DateTimeOffset.UtcNow.Add(ParseDuration(forText)).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            }

            var body = new JsonObject { ["as"] = kind, ["who"] = who };
            if (result.GetValue(reason) is { } why)
            {
                body["reason"] = why;
            }

            if (untilText is not null)
            {
                body["until"] = untilText;
            }

            var answer = await api.PostAsync("/api/v5/banned", body.ToJsonString(), ct).ConfigureAwait(false);
            var ban = answer.Json("POST /api/v5/banned");
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
            }

            var end = CtlOutput.Text(ban, "until");
            CtlOutput.Confirm($"Banned {kind} '{who}' {(end is "infinity" or "-" ? "with no end" : "until " + end)}.");
            return 0;
        });
        return command;
    }

    private static Command CreateBansDelete()
    {
        var kind = new Argument<string>("as") { Description = "clientid, username or peerhost." };
        kind.AcceptOnlyFromAmong("clientid", "username", "peerhost", "peerhost_net");
        var who = new Argument<string>("value") { Description = "The client id, user name, address or range of the ban." };
        var command = new Command("delete", "Lift a ban (DELETE /api/v5/banned/{as}/{who}).") { kind, who };
        SetAction(command, async (result, api, output, ct) =>
        {
            var value = result.GetValue(who)!;
            var asKind = BanKind(result.GetValue(kind)!, value);
            await api.DeleteAsync($"/api/v5/banned/{asKind}/{Uri.EscapeDataString(value)}", ct, () => $"No ban of {asKind} '{value}'.").ConfigureAwait(false);
            CtlOutput.Confirm($"Lifted the ban of {asKind} '{value}'.");
            return 0;
        });
        return command;
    }

    // 100 years: a longer ban is one with no end (leave --for out).
    private const long MaxBanSeconds = 100L * 365 * 86_400;

    /// <summary>A duration such as 30s, 10m, 2h, 7d or 1w (a whole number and a unit).</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length >= 2
            && long.TryParse(trimmed.AsSpan(0, trimmed.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            && n is > 0 and <= MaxBanSeconds)
        {
            var seconds = char.ToLowerInvariant(trimmed[^1]) switch
            {
                's' => n,
                'm' => n * 60,
                'h' => n * 3600,
                'd' => n * 86_400,
                'w' => n * 604_800,
                _ => -1,
            };

            if (seconds is > 0 and <= MaxBanSeconds)
            {
                return TimeSpan.FromSeconds(seconds);
            }
        }

        throw new CtlException($"--for must be a duration such as 30s, 10m, 2h or 7d (at most 100 years), not '{text}'.");
    }
}
