using System.Diagnostics;
using Tern.Server.Security;

namespace Tern.Cli.Tests;

/// <summary><c>tern passwd</c> run as a real process against a users file in a temp directory.</summary>
public sealed class PasswdTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AddListRemove()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;
        var file = Path.Combine(dir, "users.json");

        Assert.Equal(0, (await RunAsync(dir, null, "passwd", "add", "alice", "--password", "wonderland", "--iterations", "1000", "-f", file)).ExitCode);
        Assert.Equal(0, (await RunAsync(dir, null, "passwd", "add", "bob", "--password", "builder", "--iterations", "1000", "-f", file)).ExitCode);

        var list = await RunAsync(dir, null, "passwd", "list", "-f", file);
        Assert.Equal(0, list.ExitCode);
        Assert.Equal(["alice", "bob"], Lines(list.Stdout));

        var users = UsersFile.Load(file);
        Assert.True(UsersPasswordHash.Verify("wonderland", users.Single(u => u.Username == "alice").Hash));
        Assert.True(UsersPasswordHash.Verify("builder", users.Single(u => u.Username == "bob").Hash));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.Equal(0, (await RunAsync(dir, null, "passwd", "remove", "bob", "-f", file)).ExitCode);
        Assert.Equal(["alice"], Lines((await RunAsync(dir, null, "passwd", "list", "-f", file)).Stdout));

        var again = await RunAsync(dir, null, "passwd", "remove", "bob", "-f", file);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("No user 'bob'", again.Stderr, StringComparison.Ordinal);

        // Only the file itself is left: the temp files of the atomic writes were renamed away.
        Assert.Equal([file], Directory.GetFiles(dir));
    }

    [Fact]
    public async Task AddChangesTheHashOfAnExistingUser()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;
        var file = Path.Combine(dir, "users.json");
        await RunAsync(dir, null, "passwd", "add", "alice", "--password", "old", "--iterations", "1000", "-f", file);

        Assert.Equal(0, (await RunAsync(dir, null, "passwd", "add", "alice", "--password", "new", "--iterations", "1000", "-f", file)).ExitCode);

        var alice = Assert.Single(UsersFile.Load(file));
        Assert.True(UsersPasswordHash.Verify("new", alice.Hash));
    }

    [Fact]
    public async Task PasswordFromStandardInputAndDefaultFile()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;

        var add = await RunAsync(dir, "s3cret\ns3cret\n", "passwd", "add", "carol", "--iterations", "1000");

        Assert.Equal(0, add.ExitCode);
        var carol = Assert.Single(UsersFile.Load(Path.Combine(dir, "data", "users.json")));
        Assert.Equal("carol", carol.Username);
        Assert.True(UsersPasswordHash.Verify("s3cret", carol.Hash));
        Assert.Equal(["carol"], Lines((await RunAsync(dir, null, "passwd", "list")).Stdout));
    }

    [Fact]
    public async Task MismatchedOrEmptyPasswordsAreRefused()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;

        var mismatch = await RunAsync(dir, "one\ntwo\n", "passwd", "add", "dave");
        Assert.Equal(1, mismatch.ExitCode);
        Assert.Contains("differ", mismatch.Stderr, StringComparison.Ordinal);

        var empty = await RunAsync(dir, "\n", "passwd", "add", "dave");
        Assert.Equal(1, empty.ExitCode);
        Assert.Contains("must not be empty", empty.Stderr, StringComparison.Ordinal);

        Assert.False(File.Exists(Path.Combine(dir, "data", "users.json")));
    }

    [Fact]
    public async Task DefaultIterationCountIsUsed()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;

        Assert.Equal(0, (await RunAsync(dir, null, "passwd", "add", "erin", "--password", "pw")).ExitCode);

        Assert.True(UsersPasswordHash.TryGetIterations(Assert.Single(UsersFile.Load(Path.Combine(dir, "data", "users.json"))).Hash, out var iterations));
        Assert.Equal(UsersPasswordHash.DefaultIterations, iterations);
    }

    [Fact]
    public async Task ListOfAMissingOrMalformedFileFails()
    {
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;

        var missing = await RunAsync(dir, null, "passwd", "list");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr, StringComparison.Ordinal);

        var file = Path.Combine(dir, "bad.json");
        await File.WriteAllTextAsync(file, "[1, 2]");
        var malformed = await RunAsync(dir, null, "passwd", "list", "-f", file);
        Assert.Equal(1, malformed.ExitCode);
        Assert.Contains(file, malformed.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Users_file_created_while_the_broker_runs_is_picked_up(bool dataDirectoryExists)
    {
        // As a new user does it: a broker without anonymous access and without users, then 'tern passwd add'.
        var dir = Directory.CreateTempSubdirectory("tern-passwd-test-").FullName;
        if (dataDirectoryExists)
        {
            Directory.CreateDirectory(Path.Combine(dir, "data"));
        }

        await using var broker = TernProcess.Start(
            ["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Auth:AllowAnonymous=false"],
            workingDirectory: dir);
        await broker.WaitForLineAsync(l => l.Contains("Anonymous access is off (Auth:AllowAnonymous=false) and there are no users", StringComparison.Ordinal));
        var line = await broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        var port = System.Text.RegularExpressions.Regex.Match(line, @"mqtt://127\.0\.0\.1:(\d+)").Groups[1].Value;

        var add = await RunAsync(dir, null, "passwd", "add", "alice", "--password", "pw1", "--iterations", "1000");
        Assert.Equal(0, add.ExitCode);

        var pub = await RunAsync(dir, null, "pub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "pw1", "-t", "greetings", "-m", "hi", "-q", "1");
        Assert.True(pub.ExitCode == 0, $"tern pub as alice failed ({pub.ExitCode}): {pub.Stderr}");
        await broker.WaitForLineAsync(l => l.Contains("Reloaded the users file", StringComparison.Ordinal) && l.Contains("1 users", StringComparison.Ordinal));

        var wrong = await RunAsync(dir, null, "pub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "nope", "-t", "greetings", "-m", "hi");
        Assert.NotEqual(0, wrong.ExitCode);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Runs <c>dotnet tern.dll</c> with <paramref name="stdin"/> written and closed (standard input is never
    /// a terminal here, so 'add' without --password reads it).
    /// </summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, string? stdin, params string[] args)
    {
        var ternDll = Path.Combine(AppContext.BaseDirectory, "tern.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(ternDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN_", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tern {string.Join(' ', args)} did not exit within {Timeout}.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
