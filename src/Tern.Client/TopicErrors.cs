using Tern.Protocol;

namespace Tern.Client;

/// <summary>
/// Says which topic name or filter breaks the rules of MQTT section 4.7 and why, so that the
/// ArgumentException of Publish/Subscribe/Unsubscribe is enough to fix the call.
/// </summary>
internal static class TopicErrors
{
    private const string SharePrefix = "$share/";
    private const int ShownLength = 100;

    /// <summary>Null when <paramref name="topic"/> is a valid topic name, else the reason.</summary>
    public static string? ForName(string? topic)
    {
        if (topic is not null && MqttTopic.IsValidTopicName(topic))
        {
            return null;
        }

        if (string.IsNullOrEmpty(topic))
        {
            return "A topic name cannot be empty.";
        }

        int wildcard = topic.AsSpan().IndexOfAny('+', '#');
        string why = wildcard >= 0
            ? $"it contains '{topic[wildcard]}', a wildcard; wildcards are for subscribing, not publishing"
            : Unencodable(topic) ?? "it breaks the topic rules of MQTT";
        return $"{Show(topic)} is not a valid topic name: {why}.";
    }

    /// <summary>Null when <paramref name="filter"/> is a valid topic filter, else the reason.</summary>
    public static string? ForFilter(string? filter)
    {
        if (filter is not null && MqttTopic.IsValidTopicFilter(filter))
        {
            return null;
        }

        if (string.IsNullOrEmpty(filter))
        {
            return "A topic filter cannot be empty.";
        }

        string why = Unencodable(filter)
            ?? (filter.StartsWith(SharePrefix, StringComparison.Ordinal) ? SharedProblem(filter) : LevelProblem(filter))
            ?? "it breaks the topic filter rules of MQTT";
        return $"{Show(filter)} is not a valid topic filter: {why}.";
    }

    private static string? SharedProblem(string filter)
    {
        int slash = filter.IndexOf('/', SharePrefix.Length);
        string group = slash < 0 ? filter[SharePrefix.Length..] : filter[SharePrefix.Length..slash];
        if (group.Length == 0)
        {
            return "a shared subscription is $share/{group}/{filter}, and the group name is empty";
        }

        if (group.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            return $"the share group name '{group}' cannot contain '+' or '#'";
        }

        return slash < 0 || slash + 1 == filter.Length
            ? "a shared subscription is $share/{group}/{filter}, and the filter after the group is missing"
            : LevelProblem(filter[(slash + 1)..]);
    }

    private static string? LevelProblem(string filter)
    {
        string[] levels = filter.Split('/');
        for (int i = 0; i < levels.Length; i++)
        {
            string level = levels[i];
            int wildcard = level.AsSpan().IndexOfAny('+', '#');
            if (wildcard < 0)
            {
                continue;
            }

            if (level.Length != 1)
            {
                return $"'{level[wildcard]}' must be a whole level by itself, not part of '{level}'";
            }

            if (level == "#" && i != levels.Length - 1)
            {
                return "'#' must be the last level";
            }
        }

        return null;
    }

    /// <summary>Why the string cannot go on the wire as MQTT UTF-8 (section 1.5.4), or null.</summary>
    private static string? Unencodable(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\0')
            {
                return "it contains U+0000, which MQTT forbids";
            }

            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return $"it contains an unpaired surrogate (U+{(int)s[i]:X4}), which UTF-8 cannot encode";
            }
        }

        int bytes = System.Text.Encoding.UTF8.GetByteCount(s);
        return bytes > ushort.MaxValue ? $"it is {bytes} bytes in UTF-8, more than the 65535 MQTT allows" : null;
    }

    private static string Show(string s) => s.Length <= ShownLength ? $"'{s}'" : $"'{s[..ShownLength]}…' ({s.Length} characters)";
}
