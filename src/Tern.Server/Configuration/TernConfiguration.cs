using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Tern.Server.Configuration;

/// <summary>Builds Tern's configuration and binds sections with errors that name the key.</summary>
internal static class TernConfiguration
{
    /// <summary>The file read from the working directory when no <c>-c/--config</c> file is given.</summary>
    public const string DefaultFileName = "tern.json";

    /// <summary>Environment variables with this prefix are configuration: <c>TERN_Broker__MaxInflight=64</c>.</summary>
    public const string EnvironmentPrefix = "TERN_";

    /// <summary>
    /// Sources, lowest precedence first: the JSON file, <c>TERN_</c> environment variables,
    /// command-line <c>--Section:Key=value</c> args, then in-memory overrides.
    /// </summary>
    /// <summary>
    /// When MQTT over TCP asks for a free port (<c>Listeners:Tcp:Port=0</c>), every other listener
    /// whose port is not configured takes a free port too, on the TCP address when its own address is
    /// not configured either: a broker for tests on 127.0.0.1:0 must not grab 0.0.0.0:8083 or :18083.
    /// </summary>
    /// <param name="configuration">The merged configuration.</param>
    /// <param name="followers">The sections that followed (for the log), empty when none did.</param>
    public static IConfigurationRoot FollowFreeTcpPort(IConfigurationRoot configuration, out IReadOnlyList<string> followers)
    {
        followers = [];
        if (configuration["Listeners:Tcp:Port"]?.Trim() != "0"
            || string.Equals(configuration["Listeners:Tcp:Enabled"]?.Trim(), "false", StringComparison.OrdinalIgnoreCase))
        {
            return configuration;
        }

        var tcpAddress = configuration["Listeners:Tcp:Address"];
        var derived = new Dictionary<string, string?>();
        var names = new List<string>();
        foreach (var section in (string[])["Listeners:Tls", "Listeners:Ws", "Listeners:Wss", "Dashboard"])
        {
            if (!string.IsNullOrWhiteSpace(configuration[$"{section}:Port"]))
            {
                continue;
            }

            derived[$"{section}:Port"] = "0";
            if (tcpAddress is not null && string.IsNullOrWhiteSpace(configuration[$"{section}:Address"]))
            {
                derived[$"{section}:Address"] = tcpAddress;
            }

            names.Add(section);
        }

        if (names.Count == 0)
        {
            return configuration;
        }

        followers = names;
        return new ConfigurationBuilder().AddConfiguration(configuration).AddInMemoryCollection(derived).Build();
    }

    public static IConfigurationRoot Build(string[]? args, IReadOnlyDictionary<string, string?>? overrides, string? configFile)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            var path = Path.GetFullPath(configFile);
            if (!File.Exists(path))
            {
                throw new TernConfigurationException($"Configuration file not found: {path}");
            }

            builder.AddJsonFile(path, optional: false, reloadOnChange: false);
        }
        else
        {
            var path = Path.Combine(Directory.GetCurrentDirectory(), DefaultFileName);
            builder.AddJsonFile(path, optional: true, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        if (args is { Length: > 0 })
        {
            builder.AddCommandLine(args);
        }

        if (overrides is { Count: > 0 })
        {
            builder.AddInMemoryCollection(overrides);
        }

        try
        {
            return builder.Build();
        }
        catch (InvalidDataException ex)
        {
            // The JSON provider reports a malformed file this way; keep its one-line reason.
            throw new TernConfigurationException($"Invalid configuration file: {FirstLine(ex.Message)}", null, ex);
        }
        catch (FormatException ex)
        {
            // Command-line args such as "-x" that map to no key.
            throw new TernConfigurationException($"Invalid configuration argument: {FirstLine(ex.Message)}", null, ex);
        }
    }

    /// <summary>
    /// Binds <paramref name="sectionPath"/> onto a new <typeparamref name="T"/>, one key at a time, so that an
    /// unknown key or an unparsable value is reported with its full key name.
    /// </summary>
    public static T Bind<T>(IConfiguration configuration, string sectionPath)
        where T : new()
        => (T)BindObject(typeof(T), configuration.GetSection(sectionPath));

    private static object BindObject(Type type, IConfigurationSection section)
    {
        var options = Activator.CreateInstance(type)!;
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite)
            {
                throw new TernConfigurationException($"Invalid configuration: {child.Path} is not a known setting.", child.Path);
            }

            if (child.Value is null)
            {
                // A nested object: its keys one at a time too (Dashboard:Certificate:Path), so that an
                // unknown one is named; lists and dictionaries go to the binder.
                if (IsOptionsObject(property.PropertyType))
                {
                    property.SetValue(options, BindObject(property.PropertyType, child));
                }
                else if (OptionsListItem(property.PropertyType) is { } itemType)
                {
                    property.SetValue(options, BindList(itemType, child));
                }
                else
                {
                    BindNested(child, options, property);
                }

                continue;
            }

            property.SetValue(options, Convert(child, property.PropertyType));
        }

        return options;
    }

    /// <summary>
    /// Binds a list of options objects (<c>Bridges:0:Name</c>, <c>Bridges:1:Name</c>...) item by item, so
    /// that an unknown key or a bad value names its index.
    /// </summary>
    public static List<T> BindList<T>(IConfiguration configuration, string sectionPath)
        where T : new()
        => (List<T>)BindList(typeof(T), configuration.GetSection(sectionPath));

    private static System.Collections.IList BindList(Type itemType, IConfigurationSection section)
    {
        var list = (System.Collections.IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(itemType))!;
        var children = section.GetChildren().ToList();
        foreach (var child in children)
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                throw new TernConfigurationException($"Invalid configuration: {section.Path} is a list; {child.Path} is not an item of it (0, 1, ...).", child.Path);
            }
        }

        // Numeric keys sort as text ("10" before "2"): put them in index order.
        children.Sort((a, b) => int.Parse(a.Key, CultureInfo.InvariantCulture).CompareTo(int.Parse(b.Key, CultureInfo.InvariantCulture)));
        foreach (var child in children)
        {
            list.Add(BindObject(itemType, child));
        }

        return list;
    }

    private static Type? OptionsListItem(Type type)
        => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && IsOptionsObject(type.GetGenericArguments()[0])
            ? type.GetGenericArguments()[0]
            : null;

    private static bool IsOptionsObject(Type type)
        => type.IsClass && type != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(type) && type.GetConstructor(Type.EmptyTypes) is not null;

    /// <summary>Runs an options type's own Validate and turns its ArgumentException into a one-line config error.</summary>
    public static void Validate(Action validate, string sectionPath)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            var message = ex.Message;
            var suffix = ex.ParamName is null ? null : $" (Parameter '{ex.ParamName}')";
            if (suffix is not null && message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }

            var key = ex.ParamName is null ? sectionPath : $"{sectionPath}:{ex.ParamName}";
            throw new TernConfigurationException($"Invalid configuration: {message}", key, ex);
        }
    }

    private static object? Convert(IConfigurationSection child, Type type)
    {
        var value = child.Value!;
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string))
        {
            return value;
        }

        if (value.Length == 0 && target != type)
        {
            return null;
        }

        try
        {
            return target switch
            {
                _ when target == typeof(bool) => bool.Parse(value.Trim()),
                _ when target == typeof(TimeSpan) => TimeSpan.Parse(value, CultureInfo.InvariantCulture),
                _ when target.IsEnum => Enum.Parse(target, value, ignoreCase: true),
                _ => System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture),
            };
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or InvalidCastException)
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {child.Path} must be {Describe(target)}, not '{value}'.", child.Path, ex);
        }
    }

    private static void BindNested(IConfigurationSection child, object options, PropertyInfo property)
    {
        try
        {
            var value = child.Get(property.PropertyType, o => o.ErrorOnUnknownConfiguration = true);
            if (value is not null)
            {
                property.SetValue(options, value);
            }
        }
        catch (InvalidOperationException ex)
        {
            throw new TernConfigurationException($"Invalid configuration: {FirstLine(ex.Message)}", child.Path, ex);
        }
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "a whole number",
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
        _ when type == typeof(TimeSpan) => "a time span (hh:mm:ss)",
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
        _ => "a " + type.Name,
    };

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
