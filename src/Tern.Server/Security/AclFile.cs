using System.Text.Json;

namespace Tern.Server.Security;

/// <summary>The contents of an ACL file: its rules in order and, if it sets one, the default.</summary>
internal sealed record AclFileContent(IReadOnlyList<AclRule> Rules, bool? DefaultAllow);

/// <summary>
/// Reads the ACL file (<c>Acl:File</c>), JSON with comments and trailing commas allowed:
/// <c>{ "default": "deny", "rules": [ { "allow": true, "user": "alice", "action": "publish", "topic": "sensors/%u/#" } ] }</c>.
/// Errors name the file, the line and the field (<c>rules[2].action</c>).
/// </summary>
internal static class AclFile
{
    public const string ConfigKey = "Acl:File";

    /// <exception cref="TernConfigurationException">The file is missing, unreadable or invalid; the message names it.</exception>
    public static AclFileContent Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var reason = ex is FileNotFoundException or DirectoryNotFoundException ? "file not found" : ex.Message;
            throw new TernConfigurationException($"Invalid ACL file {path} ({ConfigKey}): {reason}", ConfigKey, ex);
        }

        return Parse(bytes, path);
    }

    /// <exception cref="TernConfigurationException">The text is not a valid ACL file.</exception>
    public static AclFileContent Parse(ReadOnlySpan<byte> bytes, string path)
    {
        // Utf8JsonReader does not skip a byte order mark, and editors on Windows like to write one.
        if (bytes.StartsWith("\uFEFF"u8))
        {
            bytes = bytes[3..];
        }

        var source = bytes.ToArray();
        var reader = new Utf8JsonReader(source, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            return ReadFile(ref reader, source, path);
        }
        catch (JsonException ex)
        {
            // The reader's own message ends with "LineNumber: 2 | BytePositionInLine: 7."; report the line our way.
            var message = ex.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0)
            {
                message = message[..cut];
            }

            throw Error(path, (int)(ex.LineNumber ?? 0) + 1, null, $"not valid JSON: {message.TrimEnd('.', ' ')}.", ex);
        }
    }

    private static AclFileContent ReadFile(ref Utf8JsonReader reader, byte[] source, string path)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Error(path, Line(source, reader.TokenStartIndex), null, "must be a JSON object: { \"default\": \"deny\", \"rules\": [ ... ] }.");
        }

        bool? defaultAllow = null;
        List<AclRule>? rules = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            var line = Line(source, reader.TokenStartIndex);
            reader.Read();
            switch (name.ToLowerInvariant())
            {
                case "default":
                    if (defaultAllow is not null)
                    {
                        throw Error(path, line, "default", "is given twice.");
                    }

                    var value = reader.TokenType == JsonTokenType.String ? reader.GetString()! : null;
                    defaultAllow = value is null ? null : AclRuleReader.ReadDefault(value);
                    if (defaultAllow is null)
                    {
                        throw Error(path, line, "default", "must be \"allow\" or \"deny\".");
                    }

                    break;
                case "rules":
                    if (rules is not null)
                    {
                        throw Error(path, line, "rules", "is given twice.");
                    }

                    rules = ReadRules(ref reader, source, path);
                    break;
                default:
                    throw Error(path, line, name, "is not a known field (expected \"default\" and \"rules\").");
            }
        }

        if (reader.Read())
        {
            throw Error(path, Line(source, reader.TokenStartIndex), null, "has text after the closing '}'.");
        }

        return new AclFileContent(rules ?? [], defaultAllow);
    }

    private static List<AclRule> ReadRules(ref Utf8JsonReader reader, byte[] source, string path)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Error(path, Line(source, reader.TokenStartIndex), "rules", "must be a list: [ { \"allow\": true, ... }, ... ].");
        }

        var rules = new List<AclRule>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var index = rules.Count;
            var ruleLine = Line(source, reader.TokenStartIndex);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Error(path, ruleLine, $"rules[{index}]", "must be an object: { \"allow\": true, \"all\": true, \"action\": \"all\", \"topic\": \"#\" }.");
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var lines = new Dictionary<string, int>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                var line = Line(source, reader.TokenStartIndex);
                var field = AclRuleReader.Canonical(name)
                    ?? throw Error(path, line, $"rules[{index}].{name}", $"is not a known field (expected one of {string.Join(", ", AclRuleReader.Fields)}).");
                if (fields.ContainsKey(field))
                {
                    throw Error(path, line, $"rules[{index}].{field}", "is given twice.");
                }

                reader.Read();
                fields[field] = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString()!,
                    JsonTokenType.True => "true",
                    JsonTokenType.False => "false",
                    _ => throw Error(path, line, $"rules[{index}].{field}", "must be a string (or true/false)."),
                };
                lines[field] = line;
            }

            var origin = $"{Path.GetFileName(path)} rules[{index}]";
            rules.Add(AclRuleReader.Build(
                fields,
                origin,
                AclRuleSource.File,
                (field, problem) => Error(path, field is null ? ruleLine : lines.GetValueOrDefault(field, ruleLine), field is null ? $"rules[{index}]" : $"rules[{index}].{field}", problem)));
        }

        return rules;
    }

    private static int Line(byte[] source, long offset)
    {
        var end = (int)Math.Min(offset, source.Length);
        return source.AsSpan(0, end).Count((byte)'\n') + 1;
    }

    private static TernConfigurationException Error(string path, int line, string? field, string problem, Exception? inner = null)
        => new($"Invalid ACL file {path}, line {line}: {(field is null ? "" : field + " ")}{problem}", ConfigKey, inner);
}
