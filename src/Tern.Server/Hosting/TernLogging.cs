using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Tern.Server.Hosting;

/// <summary>Console logging: one line per entry with a timestamp, on stderr so stdout stays for command output.</summary>
internal static class TernLogging
{
    public const string SectionName = "Logging";

    public static void Configure(ILoggingBuilder logging, IConfiguration configuration)
    {
        Validate(configuration.GetSection($"{SectionName}:LogLevel"));
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Information);

        // Kestrel and hosting chatter is noise for a broker; configuration below can still lower it.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Warning);

        // Start and stop failures reach the caller as exceptions (tern start prints them on one line);
        // the host would also log them with a full stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        logging.AddConfiguration(configuration.GetSection(SectionName));

        // Defaults first, so that Logging:Console:FormatterOptions:* (bound by AddSimpleConsole) can change them.
        logging.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
        });
        logging.AddSimpleConsole();
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    /// <summary>The logging binder throws a vague error late; check levels up front and name the key.</summary>
    public static void Validate(IConfigurationSection levels)
    {
        foreach (var level in levels.GetChildren())
        {
            if (level.Value is not null && !Enum.TryParse<LogLevel>(level.Value, ignoreCase: true, out _))
            {
                throw new TernConfigurationException(
                    $"Invalid configuration: {level.Path} must be one of Trace, Debug, Information, Warning, Error, Critical, None; not '{level.Value}'.",
                    level.Path);
            }
        }
    }
}
