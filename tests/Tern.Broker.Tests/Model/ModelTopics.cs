namespace Tern.Broker.Tests.Model;

/// <summary>
/// The small topic space the model publishes on (so that filters overlap and match often) and an
/// independent matcher: the model must not agree with the broker because they share a bug.
/// </summary>
internal static class ModelTopics
{
    /// <summary>m/{0..5}/{a,b}.</summary>
    public static readonly string[] Topics =
        [.. Enumerable.Range(0, 6).SelectMany(i => new[] { $"m/{i}/a", $"m/{i}/b" })];

    /// <summary>Filters plain subscribers choose from: exact, '+' and '#'.</summary>
    public static readonly string[] Filters =
    [
        "m/0/a", "m/1/b", "m/2/a", "m/3/b", "m/4/a", "m/5/b",
        "m/+/a", "m/+/b", "m/1/+", "m/4/+", "m/+/+", "m/#", "m/2/#",
    ];

    /// <summary>Shared subscriptions; each shared-role client belongs to one of them.</summary>
    public static readonly string[] SharedFilters = ["$share/g1/m/+/a", "$share/g2/m/#", "$share/g3/m/3/+"];

    /// <summary>The filter without a <c>$share/{group}/</c> prefix.</summary>
    public static string TopicFilterOf(string filter)
    {
        if (!filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            return filter;
        }

        var slash = filter.IndexOf('/', "$share/".Length);
        return filter[(slash + 1)..];
    }

    /// <summary>Spec 4.7: '+' is one level, '#' the rest (including the parent level).</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#")
            {
                return true;
            }

            if (i >= t.Length || (f[i] != "+" && f[i] != t[i]))
            {
                return false;
            }
        }

        return f.Length == t.Length;
    }
}
