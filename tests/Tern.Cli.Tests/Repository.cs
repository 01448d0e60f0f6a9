namespace Tern.Cli.Tests;

internal static class Repository
{
    /// <summary>The checkout the tests were built from: the first directory above them with Tern.slnx.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tern.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Tern.slnx above {AppContext.BaseDirectory}");
    }
}
