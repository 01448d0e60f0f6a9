using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Tern.Cli.Commands;

/// <summary>
/// Where <c>tern ctl</c> writes: tables on standard output for people, or the API's JSON as is for
/// scripts. Confirmations of changes (kicked, deleted, banned) go to standard error in both cases, so
/// that standard output holds only data.
/// </summary>
internal sealed class CtlOutput
{
    private readonly IAnsiConsole? _console;

    private CtlOutput(IAnsiConsole? console) => _console = console;

    /// <summary>True when the API's JSON is printed instead of tables.</summary>
    public bool IsJson => _console is null;

    /// <summary>JSON with <c>--json</c>, or without <c>--table</c> when standard output is not a terminal.</summary>
    public static CtlOutput Create(bool json, bool table)
    {
        if (json || (!table && Console.IsOutputRedirected))
        {
            return new CtlOutput(null);
        }

        if (!Console.IsOutputRedirected)
        {
            return new CtlOutput(AnsiConsole.Console);
        }

        // Tables into a file or a pipe: no colours, and wide enough that rows are not wrapped.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        console.Profile.Width = 200;
        return new CtlOutput(console);
    }

    /// <summary>Writes the API's answer as is (JSON mode).</summary>
    public static void WriteJson(CtlAnswer answer)
    {
        if (answer.Body.Length > 0)
        {
            Console.Out.WriteLine(answer.Body.TrimEnd('\n'));
        }
    }

    /// <summary>One line on standard error, saying what a change did.</summary>
    public static void Confirm(string message) => Console.Error.WriteLine(message);

    /// <summary>Writes a table (table mode only).</summary>
    public void Write(Table table) => Ansi().Write(table);

    /// <summary>Writes a line of text (table mode only).</summary>
    public void WriteLine(string text) => Ansi().WriteLine(text);

    /// <summary>A table with these column headers.</summary>
    public static Table NewTable(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        }

        return table;
    }

    /// <summary>Adds a row of plain text cells (no markup: values come from clients).</summary>
    public static void AddRow(Table table, params string[] cells)
        => table.AddRow(cells.Select(static c => (Spectre.Console.Rendering.IRenderable)new Text(c)).ToArray());

    /// <summary>Every property of a JSON object as a two-column table (name, value).</summary>
    public static Table PropertiesTable(JsonElement item, Func<string, JsonElement, string?>? format = null)
    {
        var table = NewTable("field", "value");
        foreach (var property in item.EnumerateObject())
        {
            AddRow(table, property.Name, format?.Invoke(property.Name, property.Value) ?? Text(property.Value));
        }

        return table;
    }

    /// <summary>A JSON value as a cell: strings without quotes, null as "-".</summary>
    public static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null or JsonValueKind.Undefined => "-",
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        _ => value.GetRawText(),
    };

    /// <summary>A property of an object as a cell ("-" when absent or null).</summary>
    public static string Text(JsonElement item, string name)
        => item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var value) ? Text(value) : "-";

    /// <summary>A number with thousands separators.</summary>
    public static string Number(JsonElement item, string name)
        => item.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n.ToString("N0", CultureInfo.InvariantCulture) : "-";

    /// <summary>A page's caption: how many there are, and how to see the next page.</summary>
    public static string? PageCaption(JsonElement page, string noun)
    {
        if (!page.TryGetProperty("meta", out var meta) || !meta.TryGetProperty("count", out var countValue) || !countValue.TryGetInt64(out var count))
        {
            return null;
        }

        var shown = page.TryGetProperty("data", out var data) ? data.GetArrayLength() : 0;
        var pageNumber = meta.TryGetProperty("page", out var p) && p.TryGetInt32(out var n) ? n : 1;
        var more = meta.TryGetProperty("hasnext", out var next) && next.ValueKind == JsonValueKind.True;
        var total = $"{count.ToString("N0", CultureInfo.InvariantCulture)} {noun}{(count == 1 ? "" : "s")}";
        return more || pageNumber > 1
            ? $"{total}; page {pageNumber} shows {shown}{(more ? $", --page {pageNumber + 1} for more" : "")}"
            : total;
    }

    private IAnsiConsole Ansi() => _console ?? throw new InvalidOperationException("Tables are not written in JSON mode.");
}
