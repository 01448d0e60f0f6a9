using System.Globalization;
using System.Runtime.Versioning;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern start</c> on a store it cannot use: random bytes, a file cut in half, a file where its
/// directory should be, a store another running broker holds, a read-only store. Each time it exits 1
/// with one line on stderr that names the file and what to do: no stack trace, no hang, and the file
/// left as it was.
/// </summary>
public sealed class StoreFileTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-store-file-").FullName;

    private string StorePath => Path.Combine(_directory, "data", "tern.db");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Random_bytes_are_reported_as_not_a_tern_store_and_left_alone()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StorePath)!);
        var garbage = new byte[64 * 1024];
        new Random(12).NextBytes(garbage);
        await File.WriteAllBytesAsync(StorePath, garbage);

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, StorePath);
        Assert.Contains("it is corrupt or not a Tern store (error 26: 'file is not a database')", line, StringComparison.Ordinal);
        Assert.Contains("Move it away to start with an empty store", line, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(StorePath));
    }

    [Fact]
    public async Task A_store_cut_in_half_is_reported_as_corrupt()
    {
        var port = Net.FreePort();
        await using (var broker = TernProcess.Start(StartArgs(port), workingDirectory: _directory))
        {
            await broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);
            await MakeStateAsync(port);
            await broker.SendSignalAsync("TERM");
            Assert.Equal(0, await broker.WaitForExitAsync(Timeout));
        }

        // A clean stop moved everything from the log into the file: cutting the file loses data.
        Assert.False(File.Exists(StorePath + "-wal") && new FileInfo(StorePath + "-wal").Length > 0, "the log was checkpointed at the stop");
        var length = new FileInfo(StorePath).Length;
        await using (var file = File.OpenWrite(StorePath))
        {
            file.SetLength(length / 2);
        }

        var cut = await File.ReadAllBytesAsync(StorePath);
        var (code, tern) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory);
        await using var _ = tern;

        // Not fewer rows: the file is shorter than its header says, and SQLite's first statement on it
        // (while the store is opened, before anything is restored) fails as malformed.
        var line = AssertRefused(code, tern, StorePath);
        Assert.Contains("it is corrupt or not a Tern store (error 11: 'database disk image is malformed')", line, StringComparison.Ordinal);
        Assert.Equal(cut, await File.ReadAllBytesAsync(StorePath));
    }

    [Fact]
    public async Task A_file_where_the_store_directory_should_be_is_named()
    {
        var data = Path.Combine(_directory, "data");
        await File.WriteAllTextAsync(data, "not a directory");

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, StorePath);
        Assert.Equal($"Cannot use the store {StorePath}: {data} is a file, not a directory. Move it away, or set Persistence:Directory elsewhere.", line);
        Assert.Equal("not a directory", await File.ReadAllTextAsync(data));
    }

    [Fact]
    public async Task A_directory_where_the_store_file_should_be_is_named()
    {
        Directory.CreateDirectory(StorePath);

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, StorePath);
        Assert.Equal($"Cannot use the store {StorePath}: it is a directory, not a file. Move it away, or set Persistence:Directory elsewhere.", line);
        Assert.True(Directory.Exists(StorePath));
    }

    [Fact]
    public async Task A_second_broker_on_the_same_directory_is_told_at_once_that_the_store_is_in_use()
    {
        var port = Net.FreePort();
        await using var first = TernProcess.Start(StartArgs(port), workingDirectory: _directory);
        await first.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var (code, second) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory);
        await using var _ = second;

        var line = AssertRefused(code, second, StorePath);
        Assert.Contains("it is in use by another process", line, StringComparison.Ordinal);
        Assert.Contains("give this broker its own Persistence:Directory", line, StringComparison.Ordinal);

        // Not the 30 s SQLite would wait for the lock by default (the rest is the process starting).
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");

        // The first one goes on serving.
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await Net.ConnectAndReadConnAckAsync(port, Timeout));
    }

    /// <summary>
    /// Read-only for the user tern runs as. Root writes whatever the mode bits say, so under root tern
    /// runs as the unprivileged user nobody (setpriv), which owns the store.
    /// </summary>
    [Theory]
    [InlineData("file")]
    [InlineData("directory")]
    [UnsupportedOSPlatform("windows")]
    public async Task A_read_only_store_is_reported_as_read_only(string what)
    {
        var data = Path.GetDirectoryName(StorePath)!;

        // Where that user creates data/ (the temporary directory is the test's user's only).
        File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        var (prefix, dll) = Unprivileged();
        await using (var broker = TernProcess.Start(StartArgs(0), workingDirectory: _directory, dll: dll, prefix: prefix))
        {
            await broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);
            await broker.SendSignalAsync("TERM");
            Assert.Equal(0, await broker.WaitForExitAsync(Timeout));
        }

        var readOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        var path = what == "file" ? StorePath : data;
        var mode = File.GetUnixFileMode(path);
        File.SetUnixFileMode(path, what == "file" ? readOnly : readOnly | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        try
        {
            var before = await File.ReadAllBytesAsync(StorePath);
            var (code, tern) = await TernProcess.RunAsync(StartArgs(0), workingDirectory: _directory, prefix: prefix, dll: dll);
            await using var _ = tern;

            var line = AssertRefused(code, tern, StorePath);
            Assert.Equal($"Cannot use the store {StorePath}: it is read-only. Make it and its directory writable by this user, or set Persistence:Directory elsewhere.", line);
            Assert.Equal(before, await File.ReadAllBytesAsync(StorePath));
        }
        finally
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static string[] StartArgs(int port) =>
        ["start", "-p", port.ToString(CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"];

    /// <summary>Exit code 1 and exactly one line on stderr, about <paramref name="path"/>, and no stack trace anywhere; returns the line.</summary>
    private static string AssertRefused(int code, TernProcess tern, string path)
    {
        var output = $"exit code {code}\nstdout:\n{tern.Stdout}\nstderr:\n{tern.Stderr}";
        Assert.True(code == 1, output);
        var lines = tern.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, output);
        Assert.StartsWith($"Cannot use the store {path}: ", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(".", lines[0], StringComparison.Ordinal);
        Assert.False(tern.Stdout.Contains("   at ", StringComparison.Ordinal) || tern.Stdout.Contains("Exception", StringComparison.Ordinal), output);
        return lines[0];
    }

    /// <summary>
    /// A persistent session offline with 300 queued messages of 1 KB, and a retained message: enough
    /// pages that half the file holds some of them.
    /// </summary>
    private static async Task MakeStateAsync(int port)
    {
        var uri = $"mqtt://127.0.0.1:{port}";
        await using (var device = new MqttClient(new MqttClientOptions { Uri = uri, ClientId = "store-device", CleanSession = false }))
        {
            await ConnectedAsync(device);
            Assert.True((await device.SubscribeAsync("store/#", MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
            await device.DisconnectAsync();
        }

        await using var publisher = new MqttClient(new MqttClientOptions { Uri = uri, ClientId = "store-publisher" });
        await ConnectedAsync(publisher);
        var payload = new byte[1024];
        for (var i = 0; i < 300; i++)
        {
            Assert.True((await publisher.PublishAsync("store/data", payload, MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
        }

        Assert.True((await publisher.PublishAsync("store/config", "retained", MqttQoS.AtLeastOnce, retain: true).WaitAsync(Timeout)).IsSuccess);
        await publisher.DisconnectAsync();
    }

    private static async Task ConnectedAsync(MqttClient client)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        await client.StartAsync();
        await connected.Task.WaitAsync(Timeout);
    }

    /// <summary>
    /// The command prefix that runs tern as an unprivileged user when the tests run as root (none
    /// otherwise); fails, saying why, when that user could not run it.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private (string[]? Prefix, string Dll) Unprivileged()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return (null, "tern.dll");
        }

        const string setpriv = "/usr/bin/setpriv";
        Assert.True(File.Exists(setpriv), $"{setpriv} is missing: install the Debian package 'util-linux' (as root, the test runs tern as the user nobody with it).");
        var dll = "tern.dll";
        if (!SearchableByOthers(AppContext.BaseDirectory))
        {
            // The build output sits where nobody cannot reach (a checkout under /root): run a copy of it.
            var copy = Path.Combine(_directory, "tern-app");
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(AppContext.BaseDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            dll = Path.Combine(copy, "tern.dll");
            Assert.True(SearchableByOthers(copy), $"{copy} is not searchable by others: the test runs tern.dll as the user nobody (setpriv) and it could not reach it.");
        }

        return ([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"], dll);
    }

    [UnsupportedOSPlatform("windows")]
    private static bool SearchableByOthers(string path)
    {
        for (var directory = path; !string.IsNullOrEmpty(directory); directory = Path.GetDirectoryName(directory.TrimEnd('/')))
        {
            if ((File.GetUnixFileMode(directory) & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }

            if (directory == "/")
            {
                break;
            }
        }

        return true;
    }
}
