using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tern.Server.Security;

/// <summary>
/// Writes the files Tern manages (the users file, API keys, the ACL rules of <see cref="AclBuiltIn"/>):
/// a temp file of mode 600 in the same directory, fsync, then a rename over the old one,
/// so a crash leaves the old file or the new one and nobody but the owner reads them.
/// </summary>
internal static class ManagedJsonFile
{
    /// <summary>Replaces <paramref name="path"/> with the JSON <paramref name="write"/> produces.</summary>
    public static void Write(string path, Action<Utf8JsonWriter> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                {
                    write(writer);
                }

                stream.WriteByte((byte)'\n');
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Parses a file the API wrote (comments and trailing commas allowed: it may be edited by hand).</summary>
    /// <exception cref="TernConfigurationException">The file cannot be read or is not JSON; the message names it.</exception>
    public static JsonDocument? Read(string path, string what)
    {
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TernConfigurationException($"Cannot read the {what} file {path}: {ex.Message}. Fix its permissions or move it away.", path, ex);
        }

        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new TernConfigurationException($"The {what} file {path} is not valid JSON ({ex.Message}); fix it or move it away.", path, ex);
        }
    }
}
