using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tern.Broker;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    private const string Infinity = "infinity";

    private static readonly string[] BanFields = ["as", "who", "by", "reason", "at", "until"];

    /// <summary>
    /// <c>GET /api/v5/banned</c>: the broker's bans (configured, flapping, added here), sorted by
    /// <c>as</c> then <c>who</c>; EMQX's exact filters <c>clientid</c>, <c>username</c>, <c>peerhost</c>.
    /// </summary>
    private IResult Bans(HttpContext context)
    {
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        var query = context.Request.Query;
        var clientId = query["clientid"].ToString();
        var username = query["username"].ToString();
        var peerhost = query["peerhost"].ToString();
        var now = DateTimeOffset.UtcNow;
        var bans = broker.Bans.All
            .Where(b => b.Until is not { } until || until > now)
            .Where(b => (clientId.Length == 0 || (b.Kind == BanKind.ClientId && b.Value == clientId))
                && (username.Length == 0 || (b.Kind == BanKind.Username && b.Value == username))
                && (peerhost.Length == 0 || (b.Kind == BanKind.Address && b.Value == peerhost)))
            .Select(ToV5)
            .OrderBy(static b => b.As, StringComparer.Ordinal)
            .ThenBy(static b => b.Who, StringComparer.Ordinal)
            .ToArray();
        var data = Slice(bans, page, limit).ToArray();
        return Ok(new V5BanPage(data, Meta(page, limit, bans.Length)), Json.V5BanPage);
    }

    /// <summary>
    /// <c>POST /api/v5/banned</c> with EMQX's body; the ban takes effect at once (a client banned by
    /// id is disconnected, as EMQX does) and, with a store, survives a restart.
    /// </summary>
    private async Task<IResult> BanAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (ReadBan(document.RootElement, out var ban) is { } error)
            {
                return BadRequest(error);
            }

            if (broker.Bans.All.Any(b => b.Kind == ban.Kind && b.Value == ban.Value && (b.Until is not { } until || until > DateTimeOffset.UtcNow)))
            {
                return BadRequest("who", $"who: {AsOf(ban)} '{ban.Value}' is already banned; delete that ban first to change it.", "ALREADY_EXISTS");
            }

            try
            {
                broker.Bans.Add(ban);
            }
            catch (ArgumentException ex)
            {
                return BadRequest("who", $"who: {ex.Message}");
            }

            var remote = context.Connection.RemoteIpAddress?.ToString();
            var shown = ToV5(ban);
            V5Log.Banned(logger, shown.As, ban.Value, shown.Until, remote);
            if (ban.Kind == BanKind.ClientId && broker.DisconnectClient(ban.Value, "banned by an administrator (REST API)"))
            {
                DashboardLog.Kicked(logger, ban.Value, remote);
            }

            return Ok(shown, Json.V5Ban);
        }
    }

    /// <summary><c>DELETE /api/v5/banned/{as}/{who}</c>: 204, or 404 when there is no such ban.</summary>
    private IResult Unban(HttpContext context)
    {
        var @as = context.Request.RouteValues["as"] as string ?? "";
        if (KindOf(@as) is not { } kind)
        {
            return BadRequest("as", $"as must be clientid, username, peerhost or peerhost_net, not '{@as}'.");
        }

        var who = RawTail(context, $"{Prefix}/banned/{@as}/", "who");
        if (!broker.Bans.Remove(kind, who))
        {
            return Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"{@as}: {who} not found");
        }

        V5Log.Unbanned(logger, @as, who, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary>Reads EMQX's ban body; returns the sentence naming the bad field, or null.</summary>
    private static FieldError? ReadBan(JsonElement root, out Ban ban)
    {
        ban = null!;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FieldError("body", "The request body must be a JSON object such as {\"as\": \"clientid\", \"who\": \"device-1\", \"reason\": \"misbehaving\"}.");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(BanFields, property.Name) < 0)
            {
                return new FieldError(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", BanFields)}.");
            }
        }

        var @as = root.TryGetProperty("as", out var asElement) && asElement.ValueKind == JsonValueKind.String ? asElement.GetString()! : null;
        if (@as is null)
        {
            return new FieldError("as", "as is required: clientid, username, peerhost or peerhost_net.");
        }

        if (@as is "clientid_re" or "username_re")
        {
            return new FieldError("as", $"as '{@as}' (a regular expression) is not supported: ban an exact clientid or username.");
        }

        if (KindOf(@as) is not { } kind)
        {
            return new FieldError("as", $"as must be clientid, username, peerhost or peerhost_net, not '{@as}'.");
        }

        if (!root.TryGetProperty("who", out var whoElement) || whoElement.ValueKind != JsonValueKind.String || whoElement.GetString() is not { Length: > 0 } who)
        {
            return new FieldError("who", "who is required: the client id, user name, address or CIDR range to ban.");
        }

        if (@as == "peerhost" && !IPAddress.TryParse(who, out _))
        {
            return new FieldError("who", $"who must be an IP address such as 192.0.2.7 with as peerhost, not '{who}' (a range is as peerhost_net).");
        }

        if (@as == "peerhost_net" && !who.Contains('/', StringComparison.Ordinal))
        {
            return new FieldError("who", $"who must be a CIDR range such as 192.0.2.0/24 with as peerhost_net, not '{who}'.");
        }

        var reason = "";
        if (root.TryGetProperty("reason", out var reasonElement) && reasonElement.ValueKind != JsonValueKind.Null)
        {
            if (reasonElement.ValueKind != JsonValueKind.String)
            {
                return new FieldError("reason", $"reason must be a string, not {reasonElement.GetRawText()}.");
            }

            reason = reasonElement.GetString()!;
            if (reason == Ban.Configured)
            {
                return new FieldError("reason", $"reason '{Ban.Configured}' is kept for the bans of Broker:Bans; give another.");
            }
        }

        // by and at are EMQX's bookkeeping, which Tern does not keep; they are checked, then dropped.
        if (root.TryGetProperty("by", out var byElement) && byElement.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new FieldError("by", $"by must be a string, not {byElement.GetRawText()}.");
        }

        if (root.TryGetProperty("at", out var atElement) && ReadTime(atElement, "at", out _) is { } atError)
        {
            return atError;
        }

        DateTimeOffset? until = null;
        if (root.TryGetProperty("until", out var untilElement))
        {
            if (ReadTime(untilElement, "until", out until) is { } untilError)
            {
                return untilError;
            }

            if (until <= DateTimeOffset.UtcNow)
            {
                return new FieldError("until", $"until {untilElement.GetRawText()} is in the past: give a later time, or \"infinity\".");
            }
        }

        ban = new Ban(kind, who, until, reason);
        return null;
    }

    /// <summary>An RFC 3339 time, Unix seconds, or <c>infinity</c> (null), as EMQX takes them.</summary>
    private static FieldError? ReadTime(JsonElement element, string name, out DateTimeOffset? time)
    {
        time = null;
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.Number when element.TryGetInt64(out var seconds) && seconds is >= 0 and <= 253402300799:
                time = DateTimeOffset.FromUnixTimeSeconds(seconds);
                return null;
            case JsonValueKind.String when element.GetString() == Infinity:
                return null;
            case JsonValueKind.String when DateTimeOffset.TryParse(element.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed):
                time = parsed;
                return null;
            default:
                return new FieldError(name, $"{name} must be an RFC 3339 time such as \"2030-11-11T10:24:00+08:00\", Unix seconds, or \"infinity\", not {element.GetRawText()}.");
        }
    }

    private static BanKind? KindOf(string @as) => @as switch
    {
        "clientid" => BanKind.ClientId,
        "username" => BanKind.Username,
        "peerhost" or "peerhost_net" => BanKind.Address,
        _ => null,
    };

    private static string AsOf(Ban ban) => ban.Kind switch
    {
        BanKind.ClientId => "clientid",
        BanKind.Username => "username",
        _ => ban.Value.Contains('/', StringComparison.Ordinal) ? "peerhost_net" : "peerhost",
    };

    private static V5Ban ToV5(Ban ban) => new(
        AsOf(ban),
        ban.Value,
        By: null,
        ban.Reason,
        At: null,
        ban.Until is { } until ? Rfc3339(until) : Infinity);
}
