using System.Globalization;
using System.Runtime.Versioning;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern start</c> on a store it cannot use: random bytes, a damaged segment or database, a file
/// where its directory should be, a store another running broker holds, a read-only store. Each time
/// it exits 1 with one line on stderr that names the store and what to do: no stack trace, no hang,
/// and the files left as they were. The log engine (the default) and SQLite (Persistence:Engine=sqlite).
/// </summary>
public sealed class StoreFileTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-store-file-").FullName;

    private string DataDirectory => Path.Combine(_directory, "data");

    private string SqlitePath => Path.Combine(DataDirectory, "tern.db");

    private string FirstSegment => Path.Combine(DataDirectory, "00000001.log");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("log")]
    [InlineData("sqlite")]
    public async Task Random_bytes_are_reported_as_not_a_tern_store_and_left_alone(string engine)
    {
        var file = engine == "log" ? FirstSegment : SqlitePath;
        Directory.CreateDirectory(DataDirectory);
        var garbage = new byte[64 * 1024];
        new Random(12).NextBytes(garbage);
        await File.WriteAllBytesAsync(file, garbage);

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, engine), workingDirectory: _directory);
        await using var _ = tern;

        if (engine == "log")
        {
            var line = AssertRefused(code, tern, DataDirectory);
            Assert.Equal($"Cannot use the store {DataDirectory}: 00000001.log is not a Tern log segment (its header is missing or wrong). Move it out of the directory, or restore a backup with 'tern data import --force'.", line);
        }
        else
        {
            var line = AssertRefused(code, tern, SqlitePath);
            Assert.Contains("it is corrupt or not a Tern store (error 26: 'file is not a database')", line, StringComparison.Ordinal);
            Assert.Contains("Move it away to start with an empty store", line, StringComparison.Ordinal);
        }

        Assert.Equal(garbage, await File.ReadAllBytesAsync(file));
    }

    [Fact]
    public async Task A_log_damaged_before_its_end_is_reported_as_corrupt_and_left_alone()
    {
        await MakeStoppedStoreAsync("log");
        var bytes = await File.ReadAllBytesAsync(FirstSegment);
        bytes[bytes.Length / 2] ^= 0x55;
        await File.WriteAllBytesAsync(FirstSegment, bytes);

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, "log"), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, DataDirectory);
        Assert.StartsWith($"Cannot use the store {DataDirectory}: 00000001.log is corrupt (a frame fails its checksum at byte ", line, StringComparison.Ordinal);
        Assert.EndsWith("'tern data check' lists what can be read; restore a backup with 'tern data import --force', or move the directory away to start with an empty store.", line, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(FirstSegment));
    }

    /// <summary>
    /// The end of the newest segment cut off, as a crash in the middle of a write leaves it: the
    /// broker starts with every whole frame (a warning says how much it cut), and the session that
    /// was stored before the cut gets its messages, in order, up to the cut.
    /// </summary>
    [Fact]
    public async Task A_log_cut_short_starts_with_what_is_whole_and_says_what_it_cut()
    {
        await MakeStoppedStoreAsync("log");
        var length = new FileInfo(FirstSegment).Length;
        await using (var file = File.OpenWrite(FirstSegment))
        {
            file.SetLength(length / 2);
        }

        // What is whole, as 'tern data check' counts it (it reads the store as the broker will, and changes nothing).
        var (checkCode, check) = await TernProcess.RunAsync(["data", "check", "--dir", DataDirectory], workingDirectory: _directory);
        await using (check)
        {
            Assert.True(checkCode == 0, check.Stdout + check.Stderr);
        }

        var whole = int.Parse(check.Stdout.Split('\n').Single(l => l.StartsWith("deliveries: ", StringComparison.Ordinal))["deliveries: ".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(whole, 1, 299);

        await using var broker = TernProcess.Start(StartArgs(0, "log"), workingDirectory: _directory);
        var warning = await broker.WaitForLineAsync(l => l.Contains("cut off", StringComparison.Ordinal), Timeout);
        Assert.Contains($"Store {DataDirectory}: cut off ", warning, StringComparison.Ordinal);
        var port = await broker.WaitForMqttPortAsync(Timeout);

        var received = new List<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var device = new MqttClient(new MqttClientOptions { Uri = $"mqtt://127.0.0.1:{port}", ClientId = "store-device", CleanSession = false });
        device.Data += (_, e) =>
        {
            if (e.Message.Topic != "store/data")
            {
                return;
            }

            lock (received)
            {
                received.Add(e.Message.Payload.Span[0] | (e.Message.Payload.Span[1] << 8));
                if (received.Count == whole)
                {
                    all.TrySetResult();
                }
            }
        };
        await ConnectedAsync(device);
        await all.Task.WaitAsync(Timeout);
        lock (received)
        {
            Assert.Equal(Enumerable.Range(0, whole), received);
        }
    }

    [Fact]
    public async Task A_sqlite_store_cut_in_half_is_reported_as_corrupt()
    {
        await MakeStoppedStoreAsync("sqlite");

        // A clean stop moved everything from the log into the file: cutting the file loses data.
        Assert.False(File.Exists(SqlitePath + "-wal") && new FileInfo(SqlitePath + "-wal").Length > 0, "the log was checkpointed at the stop");
        var length = new FileInfo(SqlitePath).Length;
        await using (var file = File.OpenWrite(SqlitePath))
        {
            file.SetLength(length / 2);
        }

        var cut = await File.ReadAllBytesAsync(SqlitePath);
        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, "sqlite"), workingDirectory: _directory);
        await using var _ = tern;

        // Not fewer rows: the file is shorter than its header says, and SQLite's first statement on it
        // (while the store is opened, before anything is restored) fails as malformed.
        var line = AssertRefused(code, tern, SqlitePath);
        Assert.Contains("it is corrupt or not a Tern store (error 11: 'database disk image is malformed')", line, StringComparison.Ordinal);
        Assert.Equal(cut, await File.ReadAllBytesAsync(SqlitePath));
    }

    [Theory]
    [InlineData("log")]
    [InlineData("sqlite")]
    public async Task A_file_where_the_store_directory_should_be_is_named(string engine)
    {
        await File.WriteAllTextAsync(DataDirectory, "not a directory");

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, engine), workingDirectory: _directory);
        await using var _ = tern;

        if (engine == "log")
        {
            var line = AssertRefused(code, tern, DataDirectory);
            Assert.Equal($"Cannot use the store {DataDirectory}: it is a file, not a directory. Move it away, or set Persistence:Directory elsewhere.", line);
        }
        else
        {
            var line = AssertRefused(code, tern, SqlitePath);
            Assert.Equal($"Cannot use the store {SqlitePath}: {DataDirectory} is a file, not a directory. Move it away, or set Persistence:Directory elsewhere.", line);
        }

        Assert.Equal("not a directory", await File.ReadAllTextAsync(DataDirectory));
    }

    [Fact]
    public async Task A_directory_where_the_sqlite_file_should_be_is_named()
    {
        Directory.CreateDirectory(SqlitePath);

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, "sqlite"), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, SqlitePath);
        Assert.Equal($"Cannot use the store {SqlitePath}: it is a directory, not a file. Move it away, or set Persistence:Directory elsewhere.", line);
        Assert.True(Directory.Exists(SqlitePath));
    }

    [Fact]
    public async Task A_sqlite_store_is_not_taken_for_an_empty_log()
    {
        await MakeStoppedStoreAsync("sqlite");

        var (code, tern) = await TernProcess.RunAsync(StartArgs(0, "log"), workingDirectory: _directory);
        await using var _ = tern;

        var line = AssertRefused(code, tern, DataDirectory);
        Assert.Contains("it holds a SQLite store (tern.db). Set Persistence:Engine=sqlite to keep using it", line, StringComparison.Ordinal);
        Assert.False(File.Exists(FirstSegment));
    }

    [Theory]
    [InlineData("log")]
    [InlineData("sqlite")]
    public async Task A_second_broker_on_the_same_directory_is_told_at_once_that_the_store_is_in_use(string engine)
    {
        await using var first = TernProcess.Start(StartArgs(0, engine), workingDirectory: _directory);
        var port = await first.WaitForMqttPortAsync(Timeout);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var (code, second) = await TernProcess.RunAsync(StartArgs(0, engine), workingDirectory: _directory);
        await using var _ = second;

        var line = AssertRefused(code, second, engine == "log" ? DataDirectory : SqlitePath);
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
    [InlineData("log", "file")]
    [InlineData("log", "directory")]
    [InlineData("sqlite", "file")]
    [InlineData("sqlite", "directory")]
    [UnsupportedOSPlatform("windows")]
    public async Task A_read_only_store_is_reported_as_read_only(string engine, string what)
    {
        var store = engine == "log" ? DataDirectory : SqlitePath;
        var file = engine == "log" ? FirstSegment : SqlitePath;

        // Where that user creates data/ (the temporary directory is the test's user's only).
        File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        var (prefix, dll) = Unprivileged();
        await using (var broker = TernProcess.Start(StartArgs(0, engine), workingDirectory: _directory, dll: dll, prefix: prefix))
        {
            await broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Timeout);
            await broker.SendSignalAsync("TERM");
            Assert.Equal(0, await broker.WaitForExitAsync(Timeout));
        }

        var readOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        var path = what == "file" ? file : DataDirectory;
        var mode = File.GetUnixFileMode(path);
        File.SetUnixFileMode(path, what == "file" ? readOnly : readOnly | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        try
        {
            var before = await File.ReadAllBytesAsync(file);
            var (code, tern) = await TernProcess.RunAsync(StartArgs(0, engine), workingDirectory: _directory, prefix: prefix, dll: dll);
            await using var _ = tern;

            var line = AssertRefused(code, tern, store);
            var advice = engine == "log" ? "Make the directory and its files writable by this user" : "Make it and its directory writable by this user";
            Assert.Equal($"Cannot use the store {store}: it is read-only. {advice}, or set Persistence:Directory elsewhere.", line);
            Assert.Equal(before, await File.ReadAllBytesAsync(file));
        }
        finally
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    /// <summary>A store of <paramref name="engine"/> made by a broker that then stopped cleanly (<see cref="MakeStateAsync"/>).</summary>
    private async Task MakeStoppedStoreAsync(string engine)
    {
        await using var broker = TernProcess.Start(StartArgs(0, engine), workingDirectory: _directory);
        await MakeStateAsync(await broker.WaitForMqttPortAsync(Timeout));
        await broker.SendSignalAsync("TERM");
        Assert.Equal(0, await broker.WaitForExitAsync(Timeout));
    }

    private static string[] StartArgs(int port, string engine) =>
        ["start", "-p", port.ToString(CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", $"--Persistence:Engine={engine}"];

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
        for (var i = 0; i < 300; i++)
        {
            // Numbered (the first two bytes), so that a test can see which came and in what order.
            var payload = new byte[1024];
            payload[0] = (byte)i;
            payload[1] = (byte)(i >> 8);
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
