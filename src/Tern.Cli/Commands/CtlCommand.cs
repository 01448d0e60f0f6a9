using System.CommandLine;

namespace Tern.Cli.Commands;

/// <summary>
/// <c>tern ctl</c>: manages a running broker through its REST API on the dashboard port
/// (<c>/api/v5</c>, EMQX's paths). Tables on a terminal, the
/// API's JSON as is with <c>--json</c> or when standard output is not a terminal.
/// </summary>
internal static partial class CtlCommand
{
    /// <summary>Where <c>tern start</c> serves the dashboard and its API by default.</summary>
    public const string DefaultUrl = "http://127.0.0.1:18083";

    /// <summary>The options every <c>tern ctl</c> command takes (recursive: given before or after the subcommand).</summary>
    private static readonly Option<string?> UrlOption = new("--url")
    {
        Description = $"The broker's dashboard address (env TERN_CTL_URL; default {DefaultUrl}).",
        HelpName = "url",
        Recursive = true,
    };

    private static readonly Option<string?> UserOption = new("--user", "-u")
    {
        Description = "The dashboard user (Dashboard:Username; env TERN_CTL_USER; default admin).",
        HelpName = "user",
        Recursive = true,
    };

    private static readonly Option<string?> PasswordOption = new("--password", "-P")
    {
        Description = "The dashboard password (Dashboard:Password; env TERN_CTL_PASSWORD; default public).",
        HelpName = "password",
        Recursive = true,
    };

    private static readonly Option<string?> ApiKeyOption = new("--api-key")
    {
        Description = "An API key and its secret, sent as HTTP Basic credentials instead of the user and password (env TERN_CTL_API_KEY).",
        HelpName = "key:secret",
        Recursive = true,
    };

    private static readonly Option<string?> CaCertOption = new("--cacert")
    {
        Description = "For an https:// --url: a PEM file of the CA certificate(s) the dashboard's certificate must chain to, instead of the system's (env TERN_CTL_CACERT).",
        HelpName = "file",
        Recursive = true,
    };

    private static readonly Option<bool> InsecureOption = new("--insecure", "-k")
    {
        Description = "For an https:// --url: accept any certificate (a self-signed one) without checking it.",
        Recursive = true,
    };

    private static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Print the API's JSON as is (the default when standard output is not a terminal).",
        Recursive = true,
    };

    private static readonly Option<bool> TableOption = new("--table")
    {
        Description = "Print tables even when standard output is not a terminal.",
        Recursive = true,
    };

    /// <summary>The <c>ctl</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command(
            "ctl",
            $"Manage a running broker through its REST API on the dashboard port (default {DefaultUrl}): "
            + "status, clients, subscriptions, retained messages, bans, MQTT users, ACL rules, the dashboard password, publish, trace.")
        {
            UrlOption,
            UserOption,
            PasswordOption,
            ApiKeyOption,
            CaCertOption,
            InsecureOption,
            JsonOption,
            TableOption,
            CreateStatus(),
            CreateClients(),
            CreateSubscriptions(),
            CreateRetained(),
            CreateBans(),
            CreateUsers(),
            CreateAcl(),
            CreateAdmins(),
            CreatePublish(),
            CreateTrace(),
        };
        return command;
    }

    /// <summary>Sets <paramref name="run"/> as the action of <paramref name="command"/>, with the connection and the errors handled.</summary>
    private static void SetAction(Command command, Func<ParseResult, CtlApi, CtlOutput, CancellationToken, Task<int>> run)
    {
        command.SetAction(async (result, ct) =>
        {
            try
            {
                using var api = CtlApi.Create(Settings(result));
                var output = CtlOutput.Create(json: result.GetValue(JsonOption), table: result.GetValue(TableOption));
                return await run(result, api, output, ct).ConfigureAwait(false);
            }
            catch (CtlException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
    }

    /// <summary>The connection settings: flags first, then TERN_CTL_* variables, then the dashboard's defaults.</summary>
    private static CtlSettings Settings(ParseResult result)
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

        var url = result.GetValue(UrlOption) ?? Env("TERN_CTL_URL") ?? DefaultUrl;
        var caCert = result.GetValue(CaCertOption) ?? Env("TERN_CTL_CACERT");
        var insecure = result.GetValue(InsecureOption);
        var user = result.GetValue(UserOption);
        var password = result.GetValue(PasswordOption);

        // A user or password flag beats a key from the environment; a key flag beats everything.
        var apiKey = result.GetValue(ApiKeyOption) ?? (user is null && password is null ? Env("TERN_CTL_API_KEY") : null);
        if (apiKey is not null)
        {
            var colon = apiKey.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == apiKey.Length - 1)
            {
                throw new CtlException("--api-key (TERN_CTL_API_KEY) must be the key and its secret as KEY:SECRET.");
            }

            return new CtlSettings(url, apiKey[..colon], apiKey[(colon + 1)..], IsApiKey: true, caCert, insecure);
        }

        return new CtlSettings(url, user ?? Env("TERN_CTL_USER") ?? "admin", password ?? Env("TERN_CTL_PASSWORD") ?? "public", IsApiKey: false, caCert, insecure);
    }

    /// <summary>The <c>--page</c> and <c>--limit</c> of a list, passed to the API (which checks them).</summary>
    private sealed class PageOptions
    {
        public Option<int?> Page { get; } = new("--page") { Description = "The page, from 1.", HelpName = "n" };

        public Option<int?> Limit { get; } = new("--limit") { Description = "Entries a page (1-10000; default 100).", HelpName = "n" };

        public void AddTo(Command command)
        {
            command.Options.Add(Page);
            command.Options.Add(Limit);
        }

        public void AddTo(CtlQuery query, ParseResult result)
        {
            query.Add("page", result.GetValue(Page));
            query.Add("limit", result.GetValue(Limit));
        }
    }
}
