using System.Globalization;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// A directory of its own for the users file, <c>api_keys.json</c> and <c>acl_rules.json</c>, so that
/// tests that change them through the API never share the default <c>data/</c>.
/// </summary>
internal sealed class V5ManagementBroker : IDisposable
{
    public V5ManagementBroker(bool durable = false, bool allowAnonymous = true)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("tern-v5-manage-").FullName;
        UsersFile = Path.Combine(Directory, "users.json");
        File.WriteAllText(UsersFile, """{ "users": [] }""");
        Settings = new Dictionary<string, string?>
        {
            ["Auth:UsersFile"] = UsersFile,
            ["Auth:AllowAnonymous"] = allowAnonymous ? "true" : "false",
        };
        if (durable)
        {
            Settings["Persistence:Mode"] = "durable";
            Settings["Persistence:Directory"] = Path.Combine(Directory, "store");
        }
    }

    public string Directory { get; }

    public string UsersFile { get; }

    public Dictionary<string, string?> Settings { get; }

    public Task<DashboardBroker> StartAsync() => DashboardBroker.StartAsync(Settings);

    /// <summary>Runs <c>mosquitto_pub</c> once against <paramref name="broker"/>; returns its exit code and output.</summary>
    public static async Task<(int Exit, string Output)> MosquittoPubAsync(TestBroker broker, params string[] args)
    {
        await using var pub = ProcessRunner.Start(
            ExternalTools.MosquittoPub,
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), .. args],
            ExternalTools.MosquittoClientsPackage);
        var exit = await pub.WaitForExitAsync();
        return (exit, pub.Output);
    }

    /// <summary>Runs <c>mosquitto_sub</c> once against <paramref name="broker"/>; returns its exit code and output.</summary>
    public static async Task<(int Exit, string Output)> MosquittoSubAsync(TestBroker broker, params string[] args)
    {
        await using var sub = ProcessRunner.Start(
            ExternalTools.MosquittoSub,
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), .. args],
            ExternalTools.MosquittoClientsPackage);
        var exit = await sub.WaitForExitAsync();
        return (exit, sub.Output);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
