using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tern.Broker.Persistence;
using Tern.Server;
using Tern.Server.Persistence;

namespace Tern.Cli.Commands;

/// <summary>
/// <c>tern data export|import|check</c>: backs up, restores and checks the broker's store
/// (<c>Persistence:Directory</c>) while no broker has it open.
/// </summary>
internal static class DataCommand
{
    public static Command Create() => new(
        "data",
        "Back up, restore and check the broker's store (Persistence:Directory, default data): sessions, "
        + "their subscriptions and queued messages, retained messages. Stop the broker first: it holds the store exclusively.")
    {
        CreateExport(),
        CreateImport(),
        CreateCheck(),
    };

    private static Option<string?> DirOption() => new("--dir", "-d")
    {
        Description = "The store's directory (Persistence:Directory). Default: the one in the configuration (-c, or tern.json in the working directory, or TERN_Persistence__Directory), else data.",
        HelpName = "dir",
    };

    private static Option<FileInfo?> ConfigOption() => new("--config", "-c")
    {
        Description = "The broker's configuration file, to read Persistence:Directory from (as 'tern start -c').",
        HelpName = "file",
    };

    private static Command CreateExport()
    {
        var file = new Argument<string>("file") { Description = "Where to write the JSON document; - for standard output." };
        var dir = DirOption();
        var config = ConfigOption();
        var command = new Command("export", "Write everything the store holds to one JSON document (a backup that 'tern data import' restores).") { file, dir, config };
        command.SetAction(result => Export(result.GetValue(file)!, result.GetValue(dir), result.GetValue(config)));
        return command;
    }

    private static Command CreateImport()
    {
        var file = new Argument<string>("file") { Description = "A JSON document 'tern data export' wrote; - for standard input." };
        var dir = DirOption();
        var config = ConfigOption();
        var force = new Option<bool>("--force") { Description = "Replace what the store holds. Without it, a store that holds anything is left alone." };
        var command = new Command("import", "Create the store from a JSON document 'tern data export' wrote.") { file, dir, config, force };
        command.SetAction(result => Import(result.GetValue(file)!, result.GetValue(dir), result.GetValue(config), result.GetValue(force)));
        return command;
    }

    private static Command CreateCheck()
    {
        var dir = DirOption();
        var config = ConfigOption();
        var command = new Command("check", "Check the store: SQLite's integrity check and every reference between sessions, deliveries, messages and retained entries. Prints counts, then ok or one line per problem; exit code 1 on a problem.") { dir, config };
        command.SetAction(result => Check(result.GetValue(dir), result.GetValue(config)));
        return command;
    }

    private static int Export(string file, string? dir, FileInfo? config)
    {
        if (!TryFindStore(dir, config, mustExist: true, out var storeDirectory, out var engine, out var storePath))
        {
            return 1;
        }

        DataFile document;
        DataFileConversion.Skipped skipped;
        try
        {
            using var store = BrokerStores.OpenForTool(storeDirectory, engine, create: false);
            document = DataFileConversion.FromState(store.Load(), DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()), out skipped);
        }
        catch (StoreException ex)
        {
            return Fail(ex.Message);
        }

        var temp = file == "-" ? null : Path.GetFullPath(file) + ".tmp";
        try
        {
            if (temp is null)
            {
                using var stdout = Console.OpenStandardOutput();
                JsonSerializer.Serialize(stdout, document, DataFileJsonContext.Default.DataFile);
                stdout.WriteByte((byte)'\n');
            }
            else
            {
                // A backup is whole or absent: written beside it, then renamed over it.
                using (var stream = File.Create(temp))
                {
                    JsonSerializer.Serialize(stream, document, DataFileJsonContext.Default.DataFile);
                    stream.WriteByte((byte)'\n');
                    stream.Flush(flushToDisk: true);
                }

                file = Path.GetFullPath(file);
                File.Move(temp, file, overwrite: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (temp is not null && File.Exists(temp))
            {
                File.Delete(temp);
            }

            return Fail($"Cannot write {Path.GetFullPath(file)}: {ex.Message} Choose another file or directory.");
        }

        if (skipped.Total > 0)
        {
            Console.Error.WriteLine(
                $"Left out what belongs to nothing in the store: {skipped.Subscriptions} subscriptions and {skipped.IncomingQoS2} incoming QoS 2 ids of missing sessions, "
                + $"{skipped.Deliveries} deliveries of missing sessions or messages, {skipped.Retained} retained entries of missing messages ('tern data check' lists them).");
        }

        Console.Error.WriteLine($"Exported {storePath} to {(file == "-" ? "standard output" : file)}: {Summary(document)}.");
        return 0;
    }

    private static int Import(string file, string? dir, FileInfo? config, bool force)
    {
        if (!TryRead(file, out var document))
        {
            return 1;
        }

        var state = DataFileConversion.ToState(document, out var problem, out var unreferenced);
        if (state is null)
        {
            return Fail($"Invalid export file {Name(file)}: {problem}. Fix it, or export the store again.");
        }

        if (!TryFindStore(dir, config, mustExist: false, out var storeDirectory, out var engine, out var storePath))
        {
            return 1;
        }

        try
        {
            using var store = BrokerStores.OpenForTool(storeDirectory, engine, create: true);
            var counts = store.Count();
            if (!counts.IsEmpty && !force)
            {
                return Fail(
                    $"The store {storePath} already holds data ({counts.Sessions} sessions, {counts.Messages} messages, {counts.Retained} retained). "
                    + "Add --force to replace it (export it first to keep a copy), or import into another --dir.");
            }

            store.Replace(state);
        }
        catch (StoreException ex)
        {
            return Fail(ex.Message);
        }

        if (unreferenced > 0)
        {
            Console.Error.WriteLine($"Left out {unreferenced} messages that no session and no retained entry refers to.");
        }

        Console.Error.WriteLine($"Imported {Name(file)} into {storePath}: {Summary(state)}.");
        return 0;
    }

    private static int Check(string? dir, FileInfo? config)
    {
        if (!TryFindStore(dir, config, mustExist: true, out var storeDirectory, out var engine, out var storePath))
        {
            return 1;
        }

        StoreCheckReport report;
        try
        {
            using var store = BrokerStores.OpenForTool(storeDirectory, engine, create: false);
            report = store.Check();
        }
        catch (StoreException ex)
        {
            return Fail(ex.Message);
        }

        var output = Console.Out;
        output.WriteLine($"store: {storePath}");
        output.WriteLine($"size: {report.SizeBytes.ToString(CultureInfo.InvariantCulture)} bytes");
        if (report.Counts is { } c)
        {
            output.WriteLine($"sessions: {c.Sessions}");
            output.WriteLine($"subscriptions: {c.Subscriptions}");
            output.WriteLine($"deliveries: {c.Deliveries}");
            output.WriteLine($"incoming QoS 2 ids: {c.IncomingQoS2}");
            output.WriteLine($"messages: {c.Messages} ({c.PayloadBytes} payload bytes)");
            output.WriteLine($"retained: {c.Retained}");
        }

        if (report.Ok)
        {
            output.WriteLine("ok");
            return 0;
        }

        foreach (var line in report.Problems)
        {
            output.WriteLine($"problem: {line}");
        }

        Console.Error.WriteLine(
            $"{storePath} has {report.Problems.Count} problem(s). A broker skips what refers to something missing; for a corrupt store, "
            + "restore a backup with 'tern data import --force', or move the file away to start empty.");
        return 1;
    }

    /// <summary>
    /// The store: in --dir, else in the configured Persistence:Directory; of the configured engine,
    /// unless the directory holds only the other engine's store.
    /// </summary>
    private static bool TryFindStore(string? dir, FileInfo? config, bool mustExist, out string directory, out StoreEngine engine, out string storePath)
    {
        directory = storePath = "";
        engine = StoreEngine.Log;
        try
        {
            var options = PersistenceOptions.FromConfiguration(config?.FullName);
            if (dir is not null)
            {
                options.Directory = dir;
            }

            directory = Path.GetFullPath(options.Directory);
            engine = options.Engine = BrokerStores.Detect(directory, options.Engine);
            storePath = options.StorePath;
        }
        catch (TernConfigurationException ex)
        {
            Fail(ex.Message);
            return false;
        }

        if (mustExist && !BrokerStores.Exists(directory, engine))
        {
            Fail($"No store at {storePath}. Give the broker's Persistence:Directory with --dir, or its configuration with -c.");
            return false;
        }

        return true;
    }

    private static bool TryRead(string file, out DataFile document)
    {
        document = null!;
        byte[] bytes;
        try
        {
            if (file == "-")
            {
                using var stdin = Console.OpenStandardInput();
                using var buffer = new MemoryStream();
                stdin.CopyTo(buffer);
                bytes = buffer.ToArray();
            }
            else
            {
                bytes = File.ReadAllBytes(file);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            Fail($"{Name(file)} does not exist. Give the file 'tern data export' wrote.");
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail($"Cannot read {Name(file)}: {ex.Message}");
            return false;
        }

        try
        {
            // Utf8JsonReader does not skip a byte order mark, and editors on Windows like to write one.
            var json = bytes.AsSpan();
            if (json.StartsWith("\uFEFF"u8))
            {
                json = json[3..];
            }

            document = JsonSerializer.Deserialize(json, DataFileJsonContext.Default.DataFile)
                ?? throw new JsonException("The document is null.");
            return true;
        }
        catch (JsonException ex)
        {
            Fail($"Invalid export file {Name(file)}, line {(ex.LineNumber ?? 0) + 1}: {Describe(ex)}. Fix it, or export the store again.");
            return false;
        }
    }

    /// <summary>The serializer's complaint in the file's terms: the field's path and what is wrong, without .NET type names.</summary>
    private static string Describe(JsonException ex)
    {
        var field = ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        if (cut > 0)
        {
            message = message[..cut];
        }

        message = message.TrimEnd('.', ' ');
        string problem;
        if (message.Contains("missing required properties", StringComparison.Ordinal))
        {
            var names = message[(message.IndexOf("including:", StringComparison.Ordinal) + "including:".Length)..].Trim();
            problem = $"lacks the field(s) {names}";
        }
        else if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            problem = "is not a known field";
        }
        else if (message.Contains("could not be converted to", StringComparison.Ordinal))
        {
            problem = "has a value of the wrong kind or out of range (numbers, true/false, base64 strings, ISO 8601 times as the export writes them)";
        }
        else if (message.Contains("null", StringComparison.OrdinalIgnoreCase) && message.Contains("doesn't allow", StringComparison.Ordinal))
        {
            problem = "must not be null";
        }
        else
        {
            problem = $"not valid JSON ({message})";
        }

        return field is null ? problem : $"{field} {problem}";
    }

    private static string Summary(StoredState state)
        => string.Create(
            CultureInfo.InvariantCulture,
            $"{state.Sessions.Count} sessions, {state.Subscriptions.Count} subscriptions, {state.Deliveries.Count} deliveries, {state.Messages.Count} messages, {state.Retained.Count} retained");

    private static string Summary(DataFile document)
        => string.Create(
            CultureInfo.InvariantCulture,
            $"{document.Sessions.Count} sessions, {document.Sessions.Sum(s => s.Subscriptions.Count)} subscriptions, {document.Sessions.Sum(s => s.Deliveries.Count)} deliveries, "
            + $"{document.Messages.Count} messages, {document.Retained.Count} retained");

    private static string Name(string file) => file == "-" ? "standard input" : Path.GetFullPath(file);

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
