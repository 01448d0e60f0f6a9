using System.Buffers;

namespace Tern.Server.Security;

/// <summary>Whether a rule's placeholders can be resolved for a client.</summary>
internal enum AclPlaceholderState
{
    /// <summary>No placeholders, or every value is usable.</summary>
    Usable,

    /// <summary>The rule uses <c>%u</c> and the client has no user name: the rule never applies.</summary>
    Missing,

    /// <summary>A value contains <c>+</c>, <c>#</c> or <c>/</c> and would widen the filter.</summary>
    Dangerous,
}

/// <summary>
/// A rule's topic filter, split into levels once when the rules are loaded. Levels holding
/// <c>%u</c>/<c>%c</c> are compared part by part against the client's values, so a check never
/// builds the substituted filter (no allocation per PUBLISH or SUBSCRIBE).
/// </summary>
internal sealed class AclTopicPattern
{
    // A value with these would turn a placeholder level into a wildcard or several levels.
    private static readonly SearchValues<char> UnsafeValueChars = SearchValues.Create("+#/");

    private readonly AclLevel[] _levels;
    private readonly bool _usesUser;
    private readonly bool _usesClientId;
    private readonly bool _everything;

    private AclTopicPattern(string filter, AclLevel[] levels, bool everything)
    {
        Filter = filter;
        _levels = levels;
        _everything = everything;
        foreach (var level in levels)
        {
            if (level.Parts is null)
            {
                continue;
            }

            foreach (var part in level.Parts)
            {
                _usesUser |= part.Placeholder == AclPlaceholder.User;
                _usesClientId |= part.Placeholder == AclPlaceholder.ClientId;
            }
        }
    }

    /// <summary>
    /// Matches, covers and overlaps every topic and filter, <c>$</c> topics included. Used for a
    /// per-client deny rule whose filter is malformed: failing closed is safer than ignoring it.
    /// </summary>
    public static AclTopicPattern Everything { get; } = new("#", [], everything: true);

    /// <summary>The filter as written, placeholders included.</summary>
    public string Filter { get; }

    public bool HasPlaceholders => _usesUser || _usesClientId;

    /// <summary>Parses a rule filter. Returns null (and why) when it is not a valid MQTT topic filter.</summary>
    public static AclTopicPattern? TryParse(string filter, out string? error)
    {
        if (!Tern.Protocol.MqttTopic.IsValidTopicFilter(filter))
        {
            error = "is not a valid MQTT topic filter ('+' and '#' must fill a whole level, '#' must be last)";
            return null;
        }

        if (Tern.Protocol.MqttTopic.TryParseSharedSubscription(filter, out _, out var inner))
        {
            // The broker asks about the inner filter of a shared subscription, so a $share rule would never match.
            error = $"must not be a shared subscription; rules apply to the inner filter, write '{inner}'";
            return null;
        }

        var texts = filter.Split('/');
        var levels = new AclLevel[texts.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            levels[i] = AclLevel.Parse(texts[i]);
        }

        error = null;
        return new AclTopicPattern(filter, levels, everything: false);
    }

    /// <summary>Can the placeholders be filled in for this client?</summary>
    public AclPlaceholderState CheckPlaceholders(string? username, string clientId)
    {
        var dangerous = false;
        if (_usesUser)
        {
            if (string.IsNullOrEmpty(username))
            {
                return AclPlaceholderState.Missing;
            }

            dangerous = username.AsSpan().IndexOfAny(UnsafeValueChars) >= 0;
        }

        if (_usesClientId)
        {
            if (string.IsNullOrEmpty(clientId))
            {
                return AclPlaceholderState.Missing;
            }

            dangerous |= clientId.AsSpan().IndexOfAny(UnsafeValueChars) >= 0;
        }

        return dangerous ? AclPlaceholderState.Dangerous : AclPlaceholderState.Usable;
    }

    /// <summary>
    /// Does the topic name match this filter (MQTT 4.7, as <c>MqttTopic.Matches</c> with the placeholders
    /// filled in)? Call only after <see cref="CheckPlaceholders"/> returned <see cref="AclPlaceholderState.Usable"/>.
    /// </summary>
    public bool Matches(ReadOnlySpan<char> topic, string? username, string clientId)
    {
        if (_everything)
        {
            return true;
        }

        if (topic.IsEmpty)
        {
            return false;
        }

        var dollar = topic[0] == '$';
        var rest = topic;
        var more = true;
        for (var i = 0; i < _levels.Length; i++)
        {
            ref readonly var level = ref _levels[i];
            if (level.Kind == AclLevelKind.MultiLevel)
            {
                // '#' also matches the parent level; wildcards at the start never match '$' topics [MQTT-4.7.2-1].
                return !(i == 0 && dollar);
            }

            if (!more)
            {
                return false;
            }

            var segment = TakeLevel(ref rest, ref more);
            if (level.Kind == AclLevelKind.SingleLevel)
            {
                if (i == 0 && dollar)
                {
                    return false;
                }
            }
            else if (!level.Equals(segment, username, clientId))
            {
                return false;
            }
        }

        return !more;
    }

    /// <summary>
    /// Is every topic that <paramref name="filter"/> matches also matched by this pattern (the requested
    /// filter is equal or narrower)? Used for allow rules on SUBSCRIBE: <c>sensors/#</c> covers
    /// <c>sensors/+/temp</c> but not <c>#</c>.
    /// </summary>
    public bool Covers(ReadOnlySpan<char> filter, string? username, string clientId)
    {
        if (_everything)
        {
            return true;
        }

        if (filter.IsEmpty)
        {
            return false;
        }

        // A filter whose first level is literal and starts with '$' only matches '$' topics,
        // which a leading wildcard in the rule never matches.
        var dollar = filter[0] == '$';
        var rest = filter;
        var more = true;
        for (var i = 0; i < _levels.Length; i++)
        {
            ref readonly var level = ref _levels[i];
            if (level.Kind == AclLevelKind.MultiLevel)
            {
                return !(i == 0 && dollar);
            }

            if (!more)
            {
                return false;
            }

            var segment = TakeLevel(ref rest, ref more);
            if (IsMulti(segment))
            {
                return false;
            }

            if (level.Kind == AclLevelKind.SingleLevel)
            {
                if (i == 0 && dollar)
                {
                    return false;
                }

                continue;
            }

            if (IsSingle(segment) || !level.Equals(segment, username, clientId))
            {
                return false;
            }
        }

        return !more;
    }

    /// <summary>
    /// Is there a topic that both <paramref name="filter"/> and this pattern match? Used for deny rules on
    /// SUBSCRIBE: a subscription that could receive a denied topic is refused, because the broker
    /// checks access when subscribing, not on each delivery.
    /// </summary>
    public bool Overlaps(ReadOnlySpan<char> filter, string? username, string clientId)
    {
        if (_everything)
        {
            return true;
        }

        if (filter.IsEmpty)
        {
            return false;
        }

        var dollar = filter[0] == '$';
        var rest = filter;
        var more = true;
        for (var i = 0; i < _levels.Length; i++)
        {
            ref readonly var level = ref _levels[i];
            if (level.Kind == AclLevelKind.MultiLevel)
            {
                return !(i == 0 && dollar);
            }

            if (!more)
            {
                return false;
            }

            var segment = TakeLevel(ref rest, ref more);
            if (IsMulti(segment))
            {
                return !(i == 0 && level.StartsWithDollar(username, clientId));
            }

            if (level.Kind == AclLevelKind.SingleLevel)
            {
                if (i == 0 && dollar)
                {
                    return false;
                }

                continue;
            }

            if (IsSingle(segment))
            {
                if (i == 0 && level.StartsWithDollar(username, clientId))
                {
                    return false;
                }

                continue;
            }

            if (!level.Equals(segment, username, clientId))
            {
                return false;
            }
        }

        if (!more)
        {
            return true;
        }

        // The rule ended; the filter still overlaps when only a '#' follows ("a/#" matches "a").
        var next = TakeLevel(ref rest, ref more);
        return !more && IsMulti(next);
    }

    public override string ToString() => Filter;

    private static bool IsMulti(ReadOnlySpan<char> level) => level.Length == 1 && level[0] == '#';

    private static bool IsSingle(ReadOnlySpan<char> level) => level.Length == 1 && level[0] == '+';

    private static ReadOnlySpan<char> TakeLevel(ref ReadOnlySpan<char> rest, ref bool more)
    {
        var slash = rest.IndexOf('/');
        if (slash < 0)
        {
            var last = rest;
            rest = default;
            more = false;
            return last;
        }

        var level = rest[..slash];
        rest = rest[(slash + 1)..];
        return level;
    }
}

internal enum AclLevelKind : byte
{
    Literal,
    SingleLevel,
    MultiLevel,

    /// <summary>Literal text with <c>%u</c>/<c>%c</c> somewhere in it, e.g. <c>%u</c> or <c>dev-%c</c>.</summary>
    Pattern,
}

internal enum AclPlaceholder : byte
{
    None,
    User,
    ClientId,
}

/// <summary>A piece of a pattern level: literal text or one placeholder.</summary>
internal readonly record struct AclPart(string Text, AclPlaceholder Placeholder);

/// <summary>One level of a rule filter.</summary>
internal readonly struct AclLevel
{
    private AclLevel(AclLevelKind kind, string text, AclPart[]? parts)
    {
        Kind = kind;
        Text = text;
        Parts = parts;
    }

    public AclLevelKind Kind { get; }

    public string Text { get; }

    /// <summary>For <see cref="AclLevelKind.Pattern"/>: the literal runs and placeholders in order (no empty runs).</summary>
    public AclPart[]? Parts { get; }

    public static AclLevel Parse(string text)
    {
        if (text == "+")
        {
            return new AclLevel(AclLevelKind.SingleLevel, text, null);
        }

        if (text == "#")
        {
            return new AclLevel(AclLevelKind.MultiLevel, text, null);
        }

        if (!text.Contains("%u", StringComparison.Ordinal) && !text.Contains("%c", StringComparison.Ordinal))
        {
            return new AclLevel(AclLevelKind.Literal, text, null);
        }

        var parts = new List<AclPart>();
        var start = 0;
        for (var i = 0; i + 1 < text.Length; i++)
        {
            var placeholder = text[i] != '%' ? AclPlaceholder.None
                : text[i + 1] == 'u' ? AclPlaceholder.User
                : text[i + 1] == 'c' ? AclPlaceholder.ClientId
                : AclPlaceholder.None;
            if (placeholder == AclPlaceholder.None)
            {
                continue;
            }

            if (i > start)
            {
                parts.Add(new AclPart(text[start..i], AclPlaceholder.None));
            }

            parts.Add(new AclPart("", placeholder));
            start = i + 2;
            i++;
        }

        if (start < text.Length)
        {
            parts.Add(new AclPart(text[start..], AclPlaceholder.None));
        }

        return new AclLevel(AclLevelKind.Pattern, text, parts.ToArray());
    }

    /// <summary>Does this literal or pattern level, placeholders filled in, equal <paramref name="segment"/>?</summary>
    public bool Equals(ReadOnlySpan<char> segment, string? username, string clientId)
    {
        if (Parts is null)
        {
            return segment.SequenceEqual(Text);
        }

        foreach (var part in Parts)
        {
            var text = part.Placeholder switch
            {
                AclPlaceholder.User => username.AsSpan(),
                AclPlaceholder.ClientId => clientId.AsSpan(),
                _ => part.Text.AsSpan(),
            };
            if (!segment.StartsWith(text, StringComparison.Ordinal))
            {
                return false;
            }

            segment = segment[text.Length..];
        }

        return segment.IsEmpty;
    }

    /// <summary>Does this literal or pattern level, placeholders filled in, start with '$'?</summary>
    public bool StartsWithDollar(string? username, string clientId)
    {
        if (Parts is null)
        {
            return Text.StartsWith('$');
        }

        var first = Parts[0];
        var text = first.Placeholder switch
        {
            AclPlaceholder.User => username ?? "",
            AclPlaceholder.ClientId => clientId,
            _ => first.Text,
        };
        return text.StartsWith('$');
    }
}
