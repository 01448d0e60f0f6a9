using System.Globalization;
using Tern.TestKit;

namespace Tern.Interop.Tests.Mosquitto;

/// <summary>Runs <c>mosquitto_sub</c> and <c>mosquitto_pub</c> (Debian <c>mosquitto-clients</c>) against a test broker.</summary>
internal static class MosquittoClients
{
    /// <summary>Starts mosquitto_sub with <c>-d</c> (debug) so that "received SUBACK" can be awaited.</summary>
    public static ProcessRunner StartSub(TestBroker broker, params string[] args) =>
        ProcessRunner.Start(ExternalTools.MosquittoSub, [.. Target(broker), "-d", .. args], ExternalTools.MosquittoClientsPackage, lineBuffered: true);

    /// <summary>Starts mosquitto_sub and waits until the broker has acknowledged its subscription.</summary>
    public static async Task<ProcessRunner> StartSubscribedAsync(TestBroker broker, params string[] args)
    {
        var sub = StartSub(broker, args);
        try
        {
            await sub.WaitForLineAsync(line => line.Contains("received SUBACK", StringComparison.Ordinal));
        }
        catch
        {
            await sub.DisposeAsync();
            throw;
        }

        return sub;
    }

    /// <summary>Runs mosquitto_pub to completion and requires exit code 0.</summary>
    public static async Task PubAsync(TestBroker broker, params string[] args)
    {
        await using var pub = ProcessRunner.Start(ExternalTools.MosquittoPub, [.. Target(broker), .. args], ExternalTools.MosquittoClientsPackage);
        var exit = await pub.WaitForExitAsync();
        Assert.True(exit == 0, $"`{pub.CommandLine}` exited with {exit}:{Environment.NewLine}{pub.Output}");
    }

    /// <summary>Waits for mosquitto_sub to exit on its own (after <c>-C</c>) and requires exit code 0.</summary>
    public static async Task ExpectCleanExitAsync(ProcessRunner sub)
    {
        var exit = await sub.WaitForExitAsync();
        Assert.True(exit == 0, $"`{sub.CommandLine}` exited with {exit}:{Environment.NewLine}{sub.Output}");
    }

    private static string[] Target(TestBroker broker) =>
        ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture)];
}
