using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.InteropServices;
using Tern.Broker.Persistence;
using Tern.Server;

namespace Tern.Cli.Commands;

/// <summary><c>tern start</c>: runs the broker in the foreground until Ctrl+C/SIGTERM.</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port", "-p")
        {
            Description = "MQTT TCP port to listen on (config key Listeners:Tcp:Port, default 1883; 0 picks a free port).",
            HelpName = "port",
            CustomParser = ParsePort,
        };

        var config = new Option<FileInfo?>("--config", "-c")
        {
            Description = "Configuration file (JSON, same shape as appsettings.json); it must exist. Default: tern.json in the working directory, if present.",
            HelpName = "file",
        };

        var command = new Command(
            "start",
            "Run the MQTT broker in the foreground until Ctrl+C or SIGTERM; SIGHUP reloads the configuration (log levels, ACL, users, "
            + "some limits; see docs/configuration.md). Any other setting can be given as "
            + "--Section:Key=value (e.g. --Broker:MaxInflight=64 or --Listeners:Tcp:Address=127.0.0.1) or as an environment "
            + "variable TERN_Section__Key (e.g. TERN_Broker__MaxInflight=64); see docs/configuration.md for every key.")
        {
            port,
            config,
        };

        // "--Section:Key=value" tokens are configuration, not options of this command.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((result, ct) => RunAsync(result.GetValue(port), result.GetValue(config), result.UnmatchedTokens, ct));
        return command;
    }

    private static async Task<int> RunAsync(int? port, FileInfo? configFile, IReadOnlyList<string> configArgs, CancellationToken ct)
    {
        if (FindStrayWord(configArgs) is { } stray)
        {
            await Console.Error.WriteLineAsync($"Unrecognized argument '{stray}'. Settings are given as --Section:Key=value; see 'tern start --help'.").ConfigureAwait(false);
            return 1;
        }

        var overrides = port is null ? null : new Dictionary<string, string?> { ["Listeners:Tcp:Port"] = port.Value.ToString(CultureInfo.InvariantCulture) };

        TernServer server;
        try
        {
            server = TernServer.Create([.. configArgs], overrides, configFile?.FullName);
        }
        catch (TernConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }
        catch (StoreException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            try
            {
                await server.StartAsync(ct).ConfigureAwait(false);
            }
            catch (TernListenerException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message + Hint(ex)).ConfigureAwait(false);
                return 1;
            }
            catch (StoreException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0;
            }

            // SIGHUP reloads, as for most Unix daemons (systemctl reload sends it); without a handler it would end the process.
            using var reload = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = Task.Run(server.Reload, CancellationToken.None);
            });

            // The server's log already says where it listens (one line for MQTT, one for the dashboard).
            await server.WaitForShutdownAsync(ct).ConfigureAwait(false);
        }

        return 0;
    }

    private static int? ParsePort(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
        {
            return port;
        }

        result.AddError($"--port must be a number between 0 and 65535, not '{text}'.");
        return null;
    }

    private static string Hint(TernListenerException ex) => ex.Listener switch
    {
        "Listeners:Tcp" => " Choose another port with -p/--port or Listeners:Tcp:Port.",
        "" => "",
        var section => $" Choose another port with --{section}:Port=..., or turn this listener off with --{section}:Enabled=false.",
    };

    // The configuration parser silently ignores bare words, which are more likely typos; but
    // "--Broker:MaxInflight 64" (space-separated) is valid, so a word right after a "--Key" is its value.
    private static string? FindStrayWord(IReadOnlyList<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.StartsWith("--", StringComparison.Ordinal))
            {
                if (!token.Contains('=', StringComparison.Ordinal) && i + 1 < tokens.Count)
                {
                    i++;
                }

                continue;
            }

            return token;
        }

        return null;
    }
}
