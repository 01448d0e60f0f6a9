using Tern.Server.Configuration;

namespace Tern.Server.Persistence;

/// <summary>How much a QoS 1/2 acknowledgement promises (<c>Persistence:Mode</c>).</summary>
public enum PersistenceMode
{
    /// <summary>Acknowledged once written to the store's log: survives the broker being killed; the OS writes it to disk within <c>FlushIntervalMs</c>.</summary>
    Durable,

    /// <summary>Acknowledged once the log is on disk (fsync): survives a loss of power too.</summary>
    Strict,

    /// <summary>Nothing on disk: a restart forgets sessions, queued and retained messages.</summary>
    Memory,
}

/// <summary>The <c>Persistence</c> section.</summary>
public sealed class PersistenceOptions
{
    public const string SectionName = "Persistence";

    /// <summary>The store's file name in <see cref="Directory"/>.</summary>
    public const string FileName = "tern.db";

    public PersistenceMode Mode { get; set; } = PersistenceMode.Durable;

    /// <summary>Where the store lives, relative to the working directory unless absolute.</summary>
    public string Directory { get; set; } = "data";

    /// <summary>Durable mode: how often what was written is forced to disk (ms).</summary>
    public int FlushIntervalMs { get; set; } = 1000;

    /// <summary>The store's path.</summary>
    public string StorePath => Path.GetFullPath(Path.Combine(Directory, FileName));

    /// <summary>
    /// The <c>Persistence</c> section as <c>tern start</c> reads it (<paramref name="configFile"/> or
    /// <c>tern.json</c> in the working directory, then <c>TERN_</c> environment variables), for tools
    /// that work on the store.
    /// </summary>
    /// <exception cref="TernConfigurationException">A file is missing or malformed, or a value is invalid; the message names the key.</exception>
    public static PersistenceOptions FromConfiguration(string? configFile)
    {
        var options = TernConfiguration.Bind<PersistenceOptions>(TernConfiguration.Build(null, null, configFile), SectionName);
        TernConfiguration.Validate(options.Validate, SectionName);
        return options;
    }

    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"Persistence:Mode must be durable, strict or memory.");
        }

        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("Persistence:Directory must name a directory.");
        }

        if (FlushIntervalMs is < 10 or > 60_000)
        {
            throw new ArgumentException("Persistence:FlushIntervalMs must be between 10 and 60000.");
        }
    }
}
