using System.Text.Json.Serialization;

namespace Tern.Server.Dashboard;

// The documents of /api/v5 (docs/rest-api.md), in EMQX 5's names: snake_case, times as RFC 3339
// strings to the millisecond. Serialized with the source generator, no reflection.

/// <summary>
/// One client of <c>GET /api/v5/clients</c>, EMQX's fields that Tern has. A kept session of a
/// disconnected client has null connection fields. Tern's own, after <c>is_bridge</c>: drops by
/// every reason, and how flow control holds this client back or is held back for it.
/// </summary>
internal sealed record V5Client(
    string Clientid,
    string? Username,
    string Node,
    string? IpAddress,
    int? Port,
    bool Connected,
    string? ProtoName,
    int? ProtoVer,
    int? Keepalive,
    bool? CleanStart,
    long ExpiryInterval,
    string? ConnectedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DisconnectedAt,
    int SubscriptionsCnt,
    int InflightCnt,
    int InflightMax,
    int MqueueLen,
    int MqueueMax,
    long MqueueDropped,
    long RecvMsg,
    long SendMsg,
    long RecvOct,
    long SendOct,
    [property: JsonPropertyName("send_msg.dropped")] long SendMsgDropped,
    [property: JsonPropertyName("send_msg.dropped.expired")] long SendMsgDroppedExpired,
    [property: JsonPropertyName("send_msg.dropped.queue_full")] long SendMsgDroppedQueueFull,
    [property: JsonPropertyName("send_msg.dropped.too_large")] long SendMsgDroppedTooLarge,
    bool IsBridge,
    IReadOnlyDictionary<string, long> DroppedByReason,
    int HeldAcknowledgements,
    int SlowedPublishers,
    long TimesSlowed);

/// <summary>
/// One subscription, as EMQX's <c>GET /subscriptions</c> shows it (<c>nl</c>, <c>rap</c>: 0 or 1);
/// Tern adds its <c>share_group</c> and <c>subscription_identifier</c> when it has them, and whether
/// its session is <c>online</c>.
/// </summary>
internal sealed record V5Subscription(
    string Clientid,
    string Topic,
    int Qos,
    int Nl,
    int Rap,
    int Rh,
    string Node,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ShareGroup,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] uint? SubscriptionIdentifier,
    bool Online);

/// <summary>One route of <c>GET /api/v5/topics</c>: a filter somebody subscribed to.</summary>
internal sealed record V5Topic(string Topic, string Node);

/// <summary>
/// One retained message; <c>payload</c> (base64) only in <c>GET .../message/{topic}</c>. Tern adds
/// <c>payload_size</c>, and in the list a <c>preview</c> of the payload's start.
/// </summary>
internal sealed record V5Retained(
    string Topic,
    int Qos,
    string PublishAt,
    string? FromClientid,
    string? FromUsername,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Payload,
    int PayloadSize,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] V5RetainedPreview? Preview);

/// <summary>
/// The first KiB of a retained payload for a list: <c>text</c> when it is UTF-8 (<c>encoding</c>
/// <c>plain</c>), else base64; <c>truncated</c> when the payload is longer.
/// </summary>
internal sealed record V5RetainedPreview(string Text, string Encoding, bool Truncated);

/// <summary>
/// One ban. <c>as</c> is <c>clientid</c>, <c>username</c>, <c>peerhost</c> (an address) or
/// <c>peerhost_net</c> (a CIDR range); <c>until</c> is <c>infinity</c> for a ban without end.
/// </summary>
internal sealed record V5Ban(
    [property: JsonPropertyName("as")] string As,
    string Who,
    string? By,
    string Reason,
    string? At,
    string Until);

/// <summary>Where a page is: <c>count</c> items in the whole list, <c>hasnext</c> when a page follows.</summary>
internal sealed record V5Meta(int Page, int Limit, int Count, bool Hasnext);

internal sealed record V5ClientPage(IReadOnlyList<V5Client> Data, V5Meta Meta);

internal sealed record V5SubscriptionPage(IReadOnlyList<V5Subscription> Data, V5Meta Meta);

internal sealed record V5TopicPage(IReadOnlyList<V5Topic> Data, V5Meta Meta);

internal sealed record V5RetainedPage(IReadOnlyList<V5Retained> Data, V5Meta Meta);

internal sealed record V5BanPage(IReadOnlyList<V5Ban> Data, V5Meta Meta);

/// <summary>
/// The result of one publish: <c>id</c> when a subscription matched, else <c>reason_code</c> 16 and
/// <c>message</c> <c>no_matching_subscribers</c>, as EMQX answers.
/// </summary>
internal sealed record V5PublishResult(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ReasonCode,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message);

/// <summary><c>POST /api/v5/login</c>: the bearer token for the next requests.</summary>
internal sealed record V5LoginResponse(string Token, string Version);

/// <summary>
/// An API key as EMQX shows it; <c>api_secret</c> only in the answer to its creation, <c>expired_at</c>
/// <c>infinity</c> for a key without end.
/// </summary>
internal sealed record V5ApiKeyDocument(
    string Name,
    string ApiKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ApiSecret,
    string ExpiredAt,
    string CreatedAt,
    string Desc,
    bool Enable,
    bool Expired);

/// <summary>A user of the built-in database (Tern: the users file); Tern has no superusers.</summary>
internal sealed record V5User(string UserId, bool IsSuperuser);

internal sealed record V5UserPage(IReadOnlyList<V5User> Data, V5Meta Meta);

/// <summary>One ACL rule in EMQX's words; <c>qos</c> and <c>retain</c> are always every QoS and <c>all</c> in Tern.</summary>
internal sealed record V5AclRule(string Topic, string Permission, string Action, int[] Qos, string Retain);

/// <summary>The rules of one user (<c>username</c>) or one client (<c>clientid</c>).</summary>
internal sealed record V5AclOwner(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Clientid,
    IReadOnlyList<V5AclRule> Rules);

internal sealed record V5AclOwnerPage(IReadOnlyList<V5AclOwner> Data, V5Meta Meta);

/// <summary>The rules for every client.</summary>
internal sealed record V5AclAll(IReadOnlyList<V5AclRule> Rules);

/// <summary>
/// The answer of <c>POST /api/v5/authorization/check</c>: <c>result</c> allow or deny; <c>source</c> where
/// the deciding rule is (<c>built_in_database</c>, <c>config</c>, <c>file</c>, <c>client</c>), or
/// <c>default</c> when no rule applied; <c>rule</c> that rule, or null.
/// </summary>
internal sealed record V5AclCheck(string Result, string Source, V5AclCheckRule? Rule, string Reason);

/// <summary>
/// The rule that decided a check. <c>list</c> and <c>index</c> (from 0) place a rule of the built-in
/// database: <c>users</c> (of <c>username</c>), <c>clients</c> (of <c>clientid</c>) or <c>all</c>.
/// </summary>
internal sealed record V5AclCheckRule(
    string Permission,
    string Action,
    string Topic,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Clientid,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Ipaddress,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? List,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Index,
    string Origin);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(V5Client))]
[JsonSerializable(typeof(V5ClientPage))]
[JsonSerializable(typeof(V5Subscription[]))]
[JsonSerializable(typeof(V5SubscriptionPage))]
[JsonSerializable(typeof(V5TopicPage))]
[JsonSerializable(typeof(V5Retained))]
[JsonSerializable(typeof(V5RetainedPage))]
[JsonSerializable(typeof(V5Ban))]
[JsonSerializable(typeof(V5BanPage))]
[JsonSerializable(typeof(V5PublishResult))]
[JsonSerializable(typeof(V5PublishResult[]))]
[JsonSerializable(typeof(V5LoginResponse))]
[JsonSerializable(typeof(V5ApiKeyDocument))]
[JsonSerializable(typeof(V5ApiKeyDocument[]))]
[JsonSerializable(typeof(V5User))]
[JsonSerializable(typeof(V5UserPage))]
[JsonSerializable(typeof(V5AclOwner))]
[JsonSerializable(typeof(V5AclOwnerPage))]
[JsonSerializable(typeof(V5AclAll))]
[JsonSerializable(typeof(V5AclCheck))]
internal sealed partial class V5JsonContext : JsonSerializerContext;
