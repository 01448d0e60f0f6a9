namespace Tern.Protocol;

/// <summary>Topic name and topic filter rules (spec 4.7) and shared subscriptions (spec 4.8.2).</summary>
public static class MqttTopic
{
    private const string SharePrefix = "$share/";

    /// <summary>
    /// A topic name is at least one character [MQTT-4.7.3-1], has no wildcard characters
    /// [MQTT-4.7.1-1], no U+0000 [MQTT-4.7.3-2], is well-formed UTF-16 (so it encodes to valid UTF-8)
    /// and encodes to at most 65535 bytes [MQTT-4.7.3-3].
    /// </summary>
    public static bool IsValidTopicName(string topic)
    {
        if (string.IsNullOrEmpty(topic) || topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            return false;
        }

        return IsEncodable(topic);
    }

    /// <summary>
    /// A topic filter is at least one character [MQTT-4.7.3-1]; '#' must be the last character and
    /// alone in its level [MQTT-4.7.1-2]; '+' must be alone in its level [MQTT-4.7.1-3]. Empty levels
    /// are allowed. A shared subscription <c>$share/{group}/{filter}</c> needs a non-empty group
    /// without '/', '+', '#' and a non-empty valid filter [MQTT-4.8.2-1] [MQTT-4.8.2-2].
    /// </summary>
    public static bool IsValidTopicFilter(string filter)
    {
        if (string.IsNullOrEmpty(filter) || !IsEncodable(filter))
        {
            return false;
        }

        if (filter.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            return TrySplitShared(filter, out _, out int innerStart)
                && IsValidPlainFilter(filter.AsSpan(innerStart));
        }

        return IsValidPlainFilter(filter);
    }

    /// <summary>True when <paramref name="filter"/> contains '+' or '#'.</summary>
    public static bool HasWildcards(string filter) => filter.AsSpan().IndexOfAny('+', '#') >= 0;

    /// <summary>
    /// Splits <c>$share/{group}/{filter}</c>. Returns false (and empty strings) when the filter is not
    /// a well-formed shared subscription: no prefix, empty group, group with '+' or '#', or no inner filter.
    /// </summary>
    public static bool TryParseSharedSubscription(string filter, out string group, out string innerFilter)
    {
        if (filter.StartsWith(SharePrefix, StringComparison.Ordinal)
            && TrySplitShared(filter, out int groupEnd, out int innerStart))
        {
            group = filter[SharePrefix.Length..groupEnd];
            innerFilter = filter[innerStart..];
            return true;
        }

        group = "";
        innerFilter = "";
        return false;
    }

    /// <summary>
    /// Whether <paramref name="topic"/> matches <paramref name="filter"/> (spec 4.7): '+' matches
    /// exactly one level (possibly empty), '#' matches its level and everything below, including the
    /// parent ("a/#" matches "a") [MQTT-4.7.1-2]. Filters starting with a wildcard do not match topics
    /// starting with '$' [MQTT-4.7.2-1]. Walks both strings without allocating.
    /// </summary>
    public static bool Matches(string filter, string topic)
    {
        if (filter.Length == 0 || topic.Length == 0)
        {
            return false;
        }

        if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        {
            return false;
        }

        ReadOnlySpan<char> f = filter;
        ReadOnlySpan<char> t = topic;
        bool topicDone = false;
        while (true)
        {
            int fs = f.IndexOf('/');
            ReadOnlySpan<char> fLevel = fs < 0 ? f : f[..fs];
            if (fLevel.Length == 1 && fLevel[0] == '#')
            {
                return true;
            }

            if (topicDone)
            {
                return false;
            }

            int ts = t.IndexOf('/');
            ReadOnlySpan<char> tLevel = ts < 0 ? t : t[..ts];
            if (!(fLevel.Length == 1 && fLevel[0] == '+') && !fLevel.SequenceEqual(tLevel))
            {
                return false;
            }

            if (fs < 0)
            {
                return ts < 0;
            }

            f = f[(fs + 1)..];
            if (ts < 0)
            {
                // The topic has no more levels; only a trailing "#" can still match.
                topicDone = true;
            }
            else
            {
                t = t[(ts + 1)..];
            }
        }
    }

    private static bool TrySplitShared(string filter, out int groupEnd, out int innerStart)
    {
        int start = SharePrefix.Length;
        int slash = filter.IndexOf('/', start);
        groupEnd = slash;
        innerStart = slash + 1;
        return slash > start
            && filter.AsSpan(start, slash - start).IndexOfAny('+', '#') < 0
            && innerStart < filter.Length;
    }

    private static bool IsValidPlainFilter(ReadOnlySpan<char> filter)
    {
        if (filter.IsEmpty)
        {
            return false;
        }

        while (true)
        {
            int slash = filter.IndexOf('/');
            ReadOnlySpan<char> level = slash < 0 ? filter : filter[..slash];
            if (level.IndexOfAny('+', '#') >= 0)
            {
                if (level.Length != 1)
                {
                    return false;
                }

                if (level[0] == '#' && slash >= 0)
                {
                    return false;
                }
            }

            if (slash < 0)
            {
                return true;
            }

            filter = filter[(slash + 1)..];
        }
    }

    /// <summary>No U+0000, no unpaired surrogate, and at most 65535 UTF-8 bytes.</summary>
    private static bool IsEncodable(string s)
    {
        int bytes = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\0')
            {
                return false;
            }

            if (c < 0x80)
            {
                bytes += 1;
            }
            else if (c < 0x800)
            {
                bytes += 2;
            }
            else if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                {
                    return false;
                }

                i++;
                bytes += 4;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
            else
            {
                bytes += 3;
            }
        }

        return bytes <= ushort.MaxValue;
    }
}
