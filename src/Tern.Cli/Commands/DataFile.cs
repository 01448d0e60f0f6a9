using System.Text.Json;
using System.Text.Json.Serialization;
using Tern.Broker;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Cli.Commands;

// The document 'tern data export' writes and 'tern data import' reads (docs/cli.md): the whole store,
// sessions with what they hold, messages once each, retained entries. Serialized with the source
// generator; times as ISO 8601, payloads and encoded MQTT 5 properties as base64. Plain setters and
// [JsonRequired], not init or required: with those the serializer reads a whole object ahead before
// it reports an error (at the object's end, not the field's line), and sets absent lists to null.

/// <summary>The export document.</summary>
internal sealed class DataFile
{
    public const string FormatName = "tern-store";
    public const int CurrentVersion = 1;

    [JsonRequired]
    public string Format { get; set; } = "";

    [JsonRequired]
    public int Version { get; set; }

    /// <summary>When it was exported (informative).</summary>
    public DateTimeOffset? Exported { get; set; }

    /// <summary>The store's last write: sessions that were connected when it stopped count their expiry from it.</summary>
    public DateTimeOffset? LastWritten { get; set; }

    public List<DataSession> Sessions { get; set; } = [];

    public List<DataMessage> Messages { get; set; } = [];

    public List<DataRetained> Retained { get; set; } = [];

    /// <summary>Bans added at run time.</summary>
    public List<DataBan> Bans { get; set; } = [];
}

/// <summary>A persistent session with its subscriptions, queued/in-flight deliveries and incoming QoS 2 ids.</summary>
internal sealed class DataSession
{
    [JsonRequired]
    public string ClientId { get; set; } = "";

    /// <summary>Seconds; 4294967295 for an MQTT 3.1.1 session (no expiry of its own).</summary>
    [JsonRequired]
    public uint ExpiryInterval { get; set; }

    /// <summary>When its connection went away; absent when it was connected as the store was last written.</summary>
    public DateTimeOffset? Disconnected { get; set; }

    public string? Username { get; set; }

    public string? Address { get; set; }

    public string? Listener { get; set; }

    public DataWill? Will { get; set; }

    /// <summary>When a delayed will is published; absent when <see cref="Will"/> is the connected client's.</summary>
    public DateTimeOffset? WillDue { get; set; }

    public List<DataSubscription> Subscriptions { get; set; } = [];

    public List<DataDelivery> Deliveries { get; set; } = [];

    [JsonPropertyName("incomingQos2")]
    public List<ushort> IncomingQoS2 { get; set; } = [];
}

internal sealed class DataWill
{
    [JsonRequired]
    public string Topic { get; set; } = "";

    [JsonRequired]
    public byte[] Payload { get; set; } = [];

    [JsonPropertyName("qos")]
    [JsonRequired]
    public int QoS { get; set; }

    public bool Retain { get; set; }

    /// <summary>MQTT 5 properties in their wire encoding.</summary>
    public byte[]? Properties { get; set; }
}

internal sealed class DataSubscription
{
    [JsonRequired]
    public string Filter { get; set; } = "";

    [JsonPropertyName("qos")]
    [JsonRequired]
    public int QoS { get; set; }

    public bool NoLocal { get; set; }

    public bool RetainAsPublished { get; set; }

    public int RetainHandling { get; set; }

    public uint? SubscriptionIdentifier { get; set; }
}

internal sealed class DataDelivery
{
    /// <summary>Its place in the session's queue.</summary>
    [JsonRequired]
    public long Sequence { get; set; }

    [JsonRequired]
    public long MessageId { get; set; }

    [JsonPropertyName("qos")]
    [JsonRequired]
    public int QoS { get; set; }

    public bool Retain { get; set; }

    public uint[]? SubscriptionIdentifiers { get; set; }

    public string? SharedFilter { get; set; }

    /// <summary>0 while queued; the packet id once sent.</summary>
    public ushort PacketId { get; set; }

    /// <summary>QoS 2: PUBREC came and PUBREL was sent.</summary>
    public bool Released { get; set; }
}

internal sealed class DataMessage
{
    [JsonRequired]
    public long Id { get; set; }

    [JsonRequired]
    public string Topic { get; set; } = "";

    [JsonRequired]
    public byte[] Payload { get; set; } = [];

    [JsonPropertyName("qos")]
    [JsonRequired]
    public int QoS { get; set; }

    public bool Retain { get; set; }

    /// <summary>MQTT 5 properties in their wire encoding.</summary>
    public byte[]? Properties { get; set; }

    public string? Publisher { get; set; }

    [JsonRequired]
    public DateTimeOffset Created { get; set; }
}

internal sealed class DataBan
{
    /// <summary><c>clientId</c>, <c>username</c> or <c>address</c>.</summary>
    [JsonRequired]
    public string Kind { get; set; } = "";

    [JsonRequired]
    public string Value { get; set; } = "";

    /// <summary>When it ends; absent for a ban until removed.</summary>
    public DateTimeOffset? Until { get; set; }

    [JsonRequired]
    public string Reason { get; set; } = "";
}

internal sealed class DataRetained
{
    [JsonRequired]
    public string Topic { get; set; } = "";

    [JsonRequired]
    public long MessageId { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(DataFile))]
internal sealed partial class DataFileJsonContext : JsonSerializerContext;

/// <summary>Converts between the store's records and the export document, and checks a document before it is imported.</summary>
internal static class DataFileConversion
{
    /// <summary>What the document leaves out because the store holds it without what it belongs to.</summary>
    /// <param name="Subscriptions">Subscriptions of a session that is not in the store.</param>
    /// <param name="Deliveries">Deliveries of a missing session or of a missing message.</param>
    /// <param name="IncomingQoS2">Incoming QoS 2 ids of a missing session.</param>
    /// <param name="Retained">Retained entries of a missing message.</param>
    public sealed record Skipped(int Subscriptions, int Deliveries, int IncomingQoS2, int Retained)
    {
        public int Total => Subscriptions + Deliveries + IncomingQoS2 + Retained;
    }

    public static DataFile FromState(StoredState state, DateTimeOffset now, out Skipped skipped)
    {
        var messageIds = state.Messages.Select(m => m.Id).ToHashSet();
        var sessions = new Dictionary<string, (DataSession Data, List<DataSubscription> Subscriptions, List<DataDelivery> Deliveries, List<ushort> Incoming)>(StringComparer.Ordinal);
        var list = new List<DataSession>(state.Sessions.Count);
        foreach (var s in state.Sessions)
        {
            List<DataSubscription> subscriptions = [];
            List<DataDelivery> deliveries = [];
            List<ushort> incoming = [];
            var data = new DataSession
            {
                ClientId = s.ClientId,
                ExpiryInterval = s.ExpiryInterval,
                Disconnected = Time(s.DisconnectedUnixMs),
                Username = s.Username,
                Address = s.Address,
                Listener = s.Listener,
                Will = s.Will is { } w ? new DataWill { Topic = w.Topic, Payload = w.Payload.ToArray(), QoS = (int)w.QoS, Retain = w.Retain, Properties = w.Properties } : null,
                WillDue = Time(s.WillDueUnixMs),
                Subscriptions = subscriptions,
                Deliveries = deliveries,
                IncomingQoS2 = incoming,
            };
            sessions[s.ClientId] = (data, subscriptions, deliveries, incoming);
            list.Add(data);
        }

        int skippedSubscriptions = 0, skippedDeliveries = 0, skippedIncoming = 0;
        foreach (var s in state.Subscriptions)
        {
            if (!sessions.TryGetValue(s.ClientId, out var session))
            {
                skippedSubscriptions++;
                continue;
            }

            session.Subscriptions.Add(new DataSubscription
            {
                Filter = s.Filter,
                QoS = (int)s.Options.QoS,
                NoLocal = s.Options.NoLocal,
                RetainAsPublished = s.Options.RetainAsPublished,
                RetainHandling = s.Options.RetainHandling,
                SubscriptionIdentifier = s.SubscriptionIdentifier,
            });
        }

        foreach (var d in state.Deliveries)
        {
            if (!sessions.TryGetValue(d.ClientId, out var session) || !messageIds.Contains(d.MessageId))
            {
                skippedDeliveries++;
                continue;
            }

            session.Deliveries.Add(new DataDelivery
            {
                Sequence = d.Sequence,
                MessageId = d.MessageId,
                QoS = (int)d.QoS,
                Retain = d.Retain,
                SubscriptionIdentifiers = d.SubscriptionIdentifiers,
                SharedFilter = d.SharedFilter,
                PacketId = d.PacketId,
                Released = d.Released,
            });
        }

        foreach (var (clientId, packetId) in state.IncomingQoS2)
        {
            if (sessions.TryGetValue(clientId, out var session))
            {
                session.Incoming.Add(packetId);
            }
            else
            {
                skippedIncoming++;
            }
        }

        var retained = state.Retained.Where(r => messageIds.Contains(r.MessageId)).Select(r => new DataRetained { Topic = r.Topic, MessageId = r.MessageId }).ToList();
        skipped = new Skipped(skippedSubscriptions, skippedDeliveries, skippedIncoming, state.Retained.Count - retained.Count);
        return new DataFile
        {
            Format = DataFile.FormatName,
            Version = DataFile.CurrentVersion,
            Exported = now,
            LastWritten = Time(state.LastWrittenUnixMs),
            Sessions = list,
            Messages = [.. state.Messages.Select(m => new DataMessage
            {
                Id = m.Id,
                Topic = m.Topic,
                Payload = m.Payload.ToArray(),
                QoS = (int)m.QoS,
                Retain = m.Retain,
                Properties = m.Properties,
                Publisher = m.PublisherClientId,
                Created = DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedUnixMs),
            })],
            Retained = retained,
            Bans = [.. state.Bans.Select(b => new DataBan
            {
                Kind = b.Kind switch { BanKind.ClientId => "clientId", BanKind.Username => "username", _ => "address" },
                Value = b.Value,
                Until = b.Until,
                Reason = b.Reason,
            })],
        };
    }

    /// <summary>
    /// The store's records for <paramref name="file"/>, or the first problem (a field path and what is
    /// wrong with it). Messages nothing refers to are left out (a broker would delete them at start).
    /// </summary>
    public static StoredState? ToState(DataFile file, out string? problem, out int unreferenced)
    {
        unreferenced = 0;
        problem = Validate(file);
        if (problem is not null)
        {
            return null;
        }

        var referenced = file.Sessions.SelectMany(s => s.Deliveries).Select(d => d.MessageId).Concat(file.Retained.Select(r => r.MessageId)).ToHashSet();
        var state = new StoredState { LastWrittenUnixMs = file.LastWritten?.ToUnixTimeMilliseconds() };
        foreach (var m in file.Messages)
        {
            if (!referenced.Contains(m.Id))
            {
                unreferenced++;
                continue;
            }

            state.Messages.Add(new StoredMessage(m.Id, m.Topic, m.Payload, (MqttQoS)m.QoS, m.Retain, Empty(m.Properties), m.Publisher, m.Created.ToUnixTimeMilliseconds()));
        }

        foreach (var s in file.Sessions)
        {
            var will = s.Will is { } w ? new StoredWill(w.Topic, w.Payload, (MqttQoS)w.QoS, w.Retain, Empty(w.Properties)) : null;
            state.Sessions.Add(new StoredSession(s.ClientId, s.ExpiryInterval, s.Disconnected?.ToUnixTimeMilliseconds(), will, s.WillDue?.ToUnixTimeMilliseconds(), s.Username, s.Address, s.Listener));
            foreach (var sub in s.Subscriptions)
            {
                var options = new SubscriptionOptions((MqttQoS)sub.QoS, sub.NoLocal, sub.RetainAsPublished, (byte)sub.RetainHandling);
                state.Subscriptions.Add(new StoredSubscription(s.ClientId, sub.Filter, options, sub.SubscriptionIdentifier));
            }

            foreach (var d in s.Deliveries.OrderBy(d => d.Sequence))
            {
                state.Deliveries.Add(new StoredDelivery(s.ClientId, d.Sequence, d.MessageId, (MqttQoS)d.QoS, d.Retain, d.SubscriptionIdentifiers is { Length: > 0 } ids ? ids : null, d.SharedFilter, d.PacketId, d.Released));
            }

            foreach (var packetId in s.IncomingQoS2)
            {
                state.IncomingQoS2.Add((s.ClientId, packetId));
            }
        }

        foreach (var r in file.Retained)
        {
            state.Retained.Add((r.Topic, r.MessageId));
        }

        for (var i = 0; i < file.Bans.Count; i++)
        {
            var b = file.Bans[i];
            BanKind? kind = b.Kind switch { "clientId" => BanKind.ClientId, "username" => BanKind.Username, "address" => BanKind.Address, _ => null };
            if (kind is null)
            {
                problem = $"bans[{i}].kind must be clientId, username or address, not '{b.Kind}'";
                return null;
            }

            state.Bans.Add(new Ban(kind.Value, b.Value, b.Until, b.Reason));
        }

        return state;
    }

    /// <summary>
    /// What the broker would trip over at start, or what a store's keys forbid (an id twice): the path
    /// of the first such field and the problem, or null.
    /// </summary>
    private static string? Validate(DataFile file)
    {
        if (file.Format != DataFile.FormatName)
        {
            return $"format is \"{file.Format}\", not \"{DataFile.FormatName}\": this is not a file 'tern data export' wrote";
        }

        if (file.Version != DataFile.CurrentVersion)
        {
            return $"version is {file.Version}, and this Tern reads version {DataFile.CurrentVersion}: import it with the Tern that exported it";
        }

        var messageIds = new HashSet<long>();
        for (var i = 0; i < file.Messages.Count; i++)
        {
            var m = file.Messages[i];
            var at = $"messages[{i}]";
            if (!messageIds.Add(m.Id))
            {
                return $"{at}.id {m.Id} is given twice";
            }

            if ((QoSProblem(m.QoS) ?? TopicProblem(m.Topic) ?? PropertiesProblem(m.Properties)) is { } p)
            {
                return $"{at}.{p}";
            }
        }

        var clientIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < file.Sessions.Count; i++)
        {
            var s = file.Sessions[i];
            var at = $"sessions[{i}]";
            if (!clientIds.Add(s.ClientId))
            {
                return $"{at}.clientId '{s.ClientId}' is given twice";
            }

            if (s.Will is { } w && (QoSProblem(w.QoS) ?? TopicProblem(w.Topic) ?? PropertiesProblem(w.Properties)) is { } wp)
            {
                return $"{at}.will.{wp}";
            }

            if (s.WillDue is not null && s.Will is null)
            {
                return $"{at}.willDue is given without a will";
            }

            var filters = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < s.Subscriptions.Count; j++)
            {
                var sub = s.Subscriptions[j];
                var sat = $"{at}.subscriptions[{j}]";
                if (!filters.Add(sub.Filter))
                {
                    return $"{sat}.filter '{sub.Filter}' is given twice";
                }

                if (!IsValidFilter(sub.Filter))
                {
                    return $"{sat}.filter '{sub.Filter}' is not a valid topic filter";
                }

                if (QoSProblem(sub.QoS) is { } q)
                {
                    return $"{sat}.{q}";
                }

                if (sub.RetainHandling is < 0 or > 2)
                {
                    return $"{sat}.retainHandling must be 0, 1 or 2, not {sub.RetainHandling}";
                }
            }

            var sequences = new HashSet<long>();
            for (var j = 0; j < s.Deliveries.Count; j++)
            {
                var d = s.Deliveries[j];
                var dat = $"{at}.deliveries[{j}]";
                if (!sequences.Add(d.Sequence))
                {
                    return $"{dat}.sequence {d.Sequence} is given twice";
                }

                if (!messageIds.Contains(d.MessageId))
                {
                    return $"{dat}.messageId {d.MessageId} is not the id of any of messages[]";
                }

                if (QoSProblem(d.QoS) is { } q)
                {
                    return $"{dat}.{q}";
                }
            }

            var incoming = new HashSet<ushort>();
            for (var j = 0; j < s.IncomingQoS2.Count; j++)
            {
                if (s.IncomingQoS2[j] == 0 || !incoming.Add(s.IncomingQoS2[j]))
                {
                    return $"{at}.incomingQos2[{j}] {s.IncomingQoS2[j]} is {(s.IncomingQoS2[j] == 0 ? "not a packet id (1-65535)" : "given twice")}";
                }
            }
        }

        var topics = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < file.Retained.Count; i++)
        {
            var r = file.Retained[i];
            if (!topics.Add(r.Topic))
            {
                return $"retained[{i}].topic '{r.Topic}' is given twice";
            }

            if (!messageIds.Contains(r.MessageId))
            {
                return $"retained[{i}].messageId {r.MessageId} is not the id of any of messages[]";
            }
        }

        return null;
    }

    private static string? QoSProblem(int qos) => qos is >= 0 and <= 2 ? null : $"qos must be 0, 1 or 2, not {qos}";

    private static string? TopicProblem(string topic) => MqttTopic.IsValidTopicName(topic) ? null : $"topic '{topic}' is not a valid topic name";

    private static string? PropertiesProblem(byte[]? properties)
    {
        try
        {
            MqttPropertiesCodec.Decode(properties);
            return null;
        }
        catch (MqttProtocolException ex)
        {
            return $"properties cannot be decoded ({ex.Message.TrimEnd('.')})";
        }
    }

    private static bool IsValidFilter(string filter)
    {
        if (filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            return MqttTopic.TryParseSharedSubscription(filter, out _, out var inner) && MqttTopic.IsValidTopicFilter(inner);
        }

        return MqttTopic.IsValidTopicFilter(filter);
    }

    private static byte[]? Empty(byte[]? bytes) => bytes is { Length: > 0 } ? bytes : null;

    private static DateTimeOffset? Time(long? unixMs) => unixMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
}
