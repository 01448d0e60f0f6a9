using System.Text.Json;

namespace Tern.Server.Security;

/// <summary>One user of the users file.</summary>
/// <param name="Username">The MQTT user name (case-sensitive).</param>
/// <param name="Hash">The password hash, see <see cref="UsersPasswordHash"/>.</param>
public sealed record UsersFileEntry(string Username, string Hash);

/// <summary>
/// The users file shared by the broker and <c>tern passwd</c>:
/// <c>{ "users": [ { "username": "alice", "hash": "$pbkdf2-sha256$..." } ] }</c>.
/// Writes replace the file atomically (temp file, fsync, rename) with mode 600, so the broker never
/// reads half a file and nobody but the owner reads the hashes.
/// </summary>
public static class UsersFile
{
    /// <summary>Where the broker and <c>tern passwd</c> look when no file is named, relative to the working directory.</summary>
    public const string DefaultPath = "data/users.json";

    /// <summary>Reads and checks the file.</summary>
    /// <exception cref="InvalidDataException">Malformed JSON, a missing field, a repeated user or a malformed hash (the message says which).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<UsersFileEntry> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = File.ReadAllBytes(path);
        return Parse(bytes, path);
    }

    /// <summary>Parses the file's content; <paramref name="path"/> is only for messages.</summary>
    public static IReadOnlyList<UsersFileEntry> Parse(ReadOnlySpan<byte> json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !TryGetProperty(root, "users", out var users) || users.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{path}: expected {{ \"users\": [ {{ \"username\": ..., \"hash\": ... }} ] }}");
            }

            var entries = new List<UsersFileEntry>(users.GetArrayLength());
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var user in users.EnumerateArray())
            {
                if (user.ValueKind != JsonValueKind.Object
                    || !TryGetProperty(user, "username", out var name) || name.ValueKind != JsonValueKind.String
                    || !TryGetProperty(user, "hash", out var hash) || hash.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidDataException($"{path}: users[{index}] needs a \"username\" and a \"hash\" string");
                }

                var username = name.GetString()!;
                if (!IsValidUsername(username))
                {
                    throw new InvalidDataException($"{path}: users[{index}] has an empty or invalid user name");
                }

                if (!seen.Add(username))
                {
                    throw new InvalidDataException($"{path}: the user '{username}' appears twice");
                }

                var hashText = hash.GetString()!;
                if (!UsersPasswordHash.IsValid(hashText))
                {
                    throw new InvalidDataException($"{path}: the hash of '{username}' is not a $pbkdf2-sha256$i=N$salt$hash string with {UsersPasswordHash.MinIterations} to {UsersPasswordHash.MaxIterations} iterations");
                }

                entries.Add(new UsersFileEntry(username, hashText));
                index++;
            }

            return entries;
        }
    }

    /// <summary>Replaces the file with <paramref name="entries"/>: temp file (mode 600), fsync, rename over the old one.</summary>
    public static void Save(string path, IEnumerable<UsersFileEntry> entries)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(entries);
        ManagedJsonFile.Write(path, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("users");
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("username", entry.Username);
                writer.WriteString("hash", entry.Hash);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary>A user name the store can hold: not empty, no control characters, at most 65535 UTF-8 bytes (the MQTT limit).</summary>
    public static bool IsValidUsername(string? username)
    {
        if (string.IsNullOrEmpty(username) || System.Text.Encoding.UTF8.GetByteCount(username) > 65535)
        {
            return false;
        }

        foreach (var c in username)
        {
            if (char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        // Case-insensitive, like the rest of Tern's configuration.
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
