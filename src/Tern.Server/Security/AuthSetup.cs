using Microsoft.Extensions.Configuration;
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

    /// <summary>The authenticators to register (none when SCRAM is off).</summary>
    /// <exception cref="TernConfigurationException">An unknown key, a bad user entry, or SCRAM on without users.</exception>
    public static IReadOnlyList<IEnhancedAuthenticator> FromConfiguration(IConfiguration configuration)
    {
        foreach (var child in configuration.GetSection(SectionName).GetChildren())
        {
            if (!child.Key.Equals("Scram", StringComparison.OrdinalIgnoreCase) && !child.Key.Equals("Users", StringComparison.OrdinalIgnoreCase))
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
}
