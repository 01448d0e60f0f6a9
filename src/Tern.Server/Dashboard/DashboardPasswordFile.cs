using System.Text.Json;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

/// <summary>
/// <c>dashboard_password.json</c>, next to <c>api_keys.json</c>: the PBKDF2 hash of the password set with
/// <c>POST /api/v5/users/{username}/change_pwd</c>. While it exists it wins over <c>Dashboard:Password</c>,
/// so a password changed in the dashboard survives a restart; deleting it goes back to the configured one.
/// </summary>
internal sealed class DashboardPasswordFile(string path)
{
    /// <summary>The file's name; it lives in the directory of the users file.</summary>
    public const string FileName = "dashboard_password.json";

    private readonly Lock _gate = new();

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; } = Path.GetFullPath(path);

    /// <summary>
    /// The stored hash for <paramref name="username"/>, or null when there is no file. A file of
    /// another user (Dashboard:Username was changed since) gives null and its user in <paramref name="otherUser"/>.
    /// </summary>
    /// <exception cref="TernConfigurationException">The file is unreadable or malformed; the message names it.</exception>
    public string? Load(string username, out string? otherUser)
    {
        otherUser = null;
        using var document = ManagedJsonFile.Read(FilePath, "dashboard password");
        if (document is null)
        {
            return null;
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("username", out var user) || user.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("hash", out var hash) || hash.ValueKind != JsonValueKind.String)
        {
            throw Malformed("expected { \"username\": \"...\", \"hash\": \"$pbkdf2-sha256$...\" }");
        }

        if (!UsersPasswordHash.IsValid(hash.GetString()))
        {
            throw Malformed("hash is not a $pbkdf2-sha256$ hash");
        }

        if (user.GetString() != username)
        {
            otherUser = user.GetString();
            return null;
        }

        return hash.GetString();
    }

    /// <summary>Replaces the file (atomically, mode 600) with the hash of <paramref name="password"/>.</summary>
    public void Save(string username, string password, DateTimeOffset changedAt)
    {
        var hash = UsersPasswordHash.Hash(password);
        lock (_gate)
        {
            ManagedJsonFile.Write(FilePath, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("username", username);
                writer.WriteString("hash", hash);
                writer.WriteString("changed_at", V5Api.Rfc3339(changedAt));
                writer.WriteEndObject();
            });
        }
    }

    private TernConfigurationException Malformed(string problem)
        => new($"The dashboard password file {FilePath} is malformed: {problem}. Fix it, or delete it to use Dashboard:Password again.", FilePath);
}
