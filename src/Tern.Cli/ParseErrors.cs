using System.CommandLine;
using System.CommandLine.Parsing;

namespace Tern.Cli;

/// <summary>
/// Prints parse errors as a few lines on stderr: each error, a "did you mean" for a mistyped option,
/// and where the help is. System.CommandLine's default prints a page of help after them, which buries
/// the one line that matters, and suggests every option for a stray value.
/// </summary>
internal static class ParseErrors
{
    public static int Report(ParseResult parsed, string[] args, TextWriter error)
    {
        var command = parsed.CommandResult.Command;
        var unmatched = new HashSet<string>(parsed.UnmatchedTokens, StringComparer.Ordinal);

        // The value after a mistyped option ("--qso 1") is unmatched only because its option was.
        var values = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (IsOption(args[i]) && unmatched.Contains(args[i]) && !args[i].Contains('=', StringComparison.Ordinal) && !IsOption(args[i + 1]))
            {
                values.Add(args[i + 1]);
            }
        }

        foreach (var parseError in parsed.Errors)
        {
            var token = unmatched.FirstOrDefault(t => parseError.Message == $"Unrecognized command or argument '{t}'.");
            if (token is not null && values.Contains(token) && !IsOption(token))
            {
                continue;
            }

            if (token is null && unmatched.Count > 0 && parseError.Message == "Required command was not provided.")
            {
                continue;
            }

            error.WriteLine(parseError.Message);
            if (token is not null && Suggest(command, token) is { } suggestion)
            {
                error.WriteLine($"Did you mean '{suggestion}'?");
            }
        }

        var path = new Stack<string>();
        for (var r = parsed.CommandResult; r.Parent is CommandResult parent; r = parent)
        {
            path.Push(r.Command.Name);
        }

        error.WriteLine($"See '{string.Join(' ', ["tern", .. path])} --help' for the options.");
        return 1;
    }

    private static bool IsOption(string token) => token.StartsWith('-') && token.Length > 1;

    private static string? Suggest(Command command, string token)
    {
        var name = token.Split('=', 2)[0];
        var candidates = IsOption(name)
            ? command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal))
            : command.Subcommands.Select(c => c.Name);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Distance(name, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        // Close enough to be a typo: at most a third of the letters wrong.
        return best is not null && bestDistance <= Math.Max(1, best.TrimStart('-').Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        // Damerau-Levenshtein (optimal string alignment): a swap of two letters counts as one.
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
