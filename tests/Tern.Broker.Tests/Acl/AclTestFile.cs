namespace Tern.Broker.Tests.Acl;

/// <summary>An ACL file in a private temporary directory, deleted with the directory on dispose.</summary>
internal sealed class AclTestFile : IDisposable
{
    private readonly string _directory;

    public AclTestFile(string json)
    {
        _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tern-acl-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, "acl.json");
        Write(json);
    }

    public string Path { get; }

    /// <summary>Replaces the contents the way editors do: write a new file, then rename it over the old one.</summary>
    public void Write(string json)
    {
        var temporary = Path + ".tmp";
        File.WriteAllText(temporary, json);
        File.Move(temporary, Path, overwrite: true);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file does not affect other tests.
        }
    }
}
