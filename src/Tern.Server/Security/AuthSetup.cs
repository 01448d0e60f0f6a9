using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Configuration;

namespace Tern.Server.Security;

/// <summary>
/// Reads the <c>Auth</c> section and builds the broker's enhanced authenticators. Users come from
/// <c>Auth:Users</c> with clear-text passwords, hashed into SCRAM credentials here at startup; a real
/// user store will replace this list.
/// </summary>
internal static class AuthSetup
{
    public const string SectionName = "Auth";
    public const string UsersSectionName = "Auth:Users";
    public const string UsersFileKey = "Auth:UsersFile";
    public const string AllowAnonymousKey = "Auth:AllowAnonymous";

    // The keys directly under Auth; anything else is a typo worth stopping for.
    private static readonly string[] KnownKeys = ["Scram", "Users", "UsersFile", "AllowAnonymous", "Jwt"];

    /// <summary>The authenticators to register (none when SCRAM is off).</summary>
    /// <exception cref="TernConfigurationException">An unknown key, a bad user entry, or SCRAM on without users.</exception>
    public static IReadOnlyList<IEnhancedAuthenticator> FromConfiguration(IConfiguration configuration)
    {
        foreach (var child in configuration.GetSection(SectionName).GetChildren())
        {
            if (!KnownKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new TernConfigurationException($"Invalid configuration: {child.Path} is not a known setting.", child.Path);
            }
        }

        var scram = TernConfiguration.Bind<ScramAuthOptions>(configuration, ScramAuthOptions.SectionName);

        // Checked even when SCRAM is off: a broken entry is a mistake now, not when someone turns SCRAM on.
        var users = ReadUsers(configuration);
        if (!scram.Enabled)
        {
            return [];
        }

        if (users.Count == 0)
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {UsersSectionName} must list at least one user when {ScramAuthOptions.SectionName}:Enabled is true.",
                UsersSectionName);
        }

        var store = new InMemoryScramCredentialStore();
        foreach (var (username, password) in users)
        {
            store.Set(username, ScramCredential.FromPassword(password));
        }

        return [new ScramSha256Authenticator(store)];
    }

    private static List<(string Username, string Password)> ReadUsers(IConfiguration configuration)
    {
        var section = configuration.GetSection(UsersSectionName);
        if (section.Value is { Length: > 0 })
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {UsersSectionName} must be a list of {{ \"Username\": ..., \"Password\": ... }} entries.",
                UsersSectionName);
        }

        var users = new List<(string Username, string Password)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in section.GetChildren())
        {
            var user = TernConfiguration.Bind<AuthUserOptions>(configuration, entry.Path);
            var usernameKey = $"{entry.Path}:{nameof(AuthUserOptions.Username)}";
            if (string.IsNullOrEmpty(user.Username))
            {
                throw new TernConfigurationException($"Invalid configuration: {usernameKey} must not be empty.", usernameKey);
            }

            if (!seen.Add(user.Username))
            {
                throw new TernConfigurationException($"Invalid configuration: {usernameKey} repeats the user '{user.Username}'.", usernameKey);
            }

            if (string.IsNullOrEmpty(user.Password))
            {
                var passwordKey = $"{entry.Path}:{nameof(AuthUserOptions.Password)}";
                throw new TernConfigurationException($"Invalid configuration: {passwordKey} must not be empty.", passwordKey);
            }

            users.Add((user.Username, user.Password));
        }

        return users;
    }

    /// <summary>
    /// The CONNECT authenticator chain: JWT (when the password is a token), the users file (when a user
    /// name is given), then anonymous access. The default users file is followed even before it exists,
    /// so that 'tern passwd add' works on a running broker; until it first appears, user names are
    /// not checked (as without any users file).
    /// </summary>
    /// <exception cref="TernConfigurationException">A bad value, a named users file that is missing or malformed, or a bad JWT key.</exception>
    public static AuthChain CreateChain(IConfiguration configuration)
    {
        var allowAnonymous = ReadBool(configuration, AllowAnonymousKey, defaultValue: true);
        var jwtOptions = TernConfiguration.Bind<JwtOptions>(configuration, JwtOptions.SectionName);
        var usersStore = OpenUsersStore(configuration);
        JwtAuthenticator? jwt = null;
        try
        {
            if (jwtOptions.Enabled)
            {
                TernConfiguration.Validate(() => jwt = new JwtAuthenticator(jwtOptions), JwtOptions.SectionName);
            }
        }
        catch
        {
            usersStore?.Dispose();
            throw;
        }

        var authenticators = new List<IMqttAuthenticator>();
        if (jwt is not null)
        {
            // First: a token in the password is the JWT authenticator's even when the user name is also in the users file.
            authenticators.Add(jwt);
        }

        if (usersStore is not null)
        {
            authenticators.Add(new UsersAuthenticator(usersStore));
        }

        // Names are unchecked only while nothing can check them: no JWT and no users file ever read.
        Func<bool> namesChecked = jwt is not null || usersStore is null ? () => jwt is not null : () => usersStore.IsInForce;
        authenticators.Add(new AnonymousAuthenticator(allowAnonymous, namesChecked));
        var scramUsers = TernConfiguration.Bind<ScramAuthOptions>(configuration, ScramAuthOptions.SectionName).Enabled ? ReadUsers(configuration).Count : 0;
        return new AuthChain(authenticators, usersStore, jwt, allowAnonymous, scramUsers);
    }

    private static UsersStore? OpenUsersStore(IConfiguration configuration)
    {
        var configured = configuration[UsersFileKey];
        string path;
        if (string.IsNullOrEmpty(configured))
        {
            // The default file is optional: the broker follows it from when it appears.
            path = Path.GetFullPath(UsersFile.DefaultPath);
            try
            {
                return new UsersStore(path, optional: true);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                throw new TernConfigurationException($"Invalid configuration: {UsersFileKey}: {ex.Message}", UsersFileKey, ex);
            }
        }
        else
        {
            path = Path.GetFullPath(configured);
            if (!File.Exists(path))
            {
                throw new TernConfigurationException(
                    $"Invalid configuration: {UsersFileKey}: {path} does not exist (create it with 'tern passwd add -f {configured} USER').",
                    UsersFileKey);
            }
        }

        try
        {
            return new UsersStore(path);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new TernConfigurationException($"Invalid configuration: {UsersFileKey}: {ex.Message}", UsersFileKey, ex);
        }
    }

    private static bool ReadBool(IConfiguration configuration, string key, bool defaultValue)
    {
        var value = configuration[key];
        if (string.IsNullOrEmpty(value))
        {
            return defaultValue;
        }

        return bool.TryParse(value.Trim(), out var result)
            ? result
            : throw new TernConfigurationException($"Invalid configuration: {key} must be true or false, not '{value}'.", key);
    }
}

/// <summary>The CONNECT authenticators of a server and what they hold open (the users file watcher, the RSA key).</summary>
internal sealed class AuthChain(
    IReadOnlyList<IMqttAuthenticator> authenticators, UsersStore? usersStore, JwtAuthenticator? jwt, bool allowAnonymous, int scramUsers) : IDisposable
{
    public IReadOnlyList<IMqttAuthenticator> Authenticators { get; } = authenticators;

    public UsersStore? UsersStore { get; } = usersStore;

    /// <summary>Starts following the users file, logging through the host's logger.</summary>
    public void Start(ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger<UsersStore>();
        UsersStore?.StartWatching(logger);
        if (!allowAnonymous && jwt is null && scramUsers == 0 && (UsersStore is null || UsersStore.Count == 0))
        {
            logger.LogWarning(
                "Anonymous access is off ({Key}=false) and there are no users: no client can connect until one is added with 'tern passwd add USER' ({Path})",
                AuthSetup.AllowAnonymousKey,
                UsersStore?.FilePath ?? Path.GetFullPath(UsersFile.DefaultPath));
        }
    }

    public void Dispose()
    {
        UsersStore?.Dispose();
        jwt?.Dispose();
    }
}
