using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// The Dockerfile built and run with podman by <c>packaging/container-test.sh</c>, from local stand-ins
/// for the base images. It takes several minutes and root, so it runs only when asked:
/// <c>TERN_CONTAINER_TEST=1</c>.
/// </summary>
public sealed class ContainerImageTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(20);

    [ContainerFact]
    public async Task Image_builds_keeps_retained_messages_in_its_volume_across_a_restart_serves_the_dashboard_passes_its_health_check_and_runs_as_non_root()
    {
        ExternalTools.Require("/usr/bin/podman", "podman");
        ExternalTools.Require("/usr/sbin/debootstrap", "debootstrap");
        ExternalTools.Require(ExternalTools.MosquittoPub, ExternalTools.MosquittoClientsPackage);
        ExternalTools.Require("/usr/bin/curl", "curl");

        var script = Path.Combine(Repository.Root(), "packaging", "container-test.sh");
        var output = new StringBuilder();
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo("bash", [script]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true },
        };
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM, so that the script removes its containers and images before it exits.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            // The trap runs once the step it waits for returns; a step that hangs is killed with the script.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(cleanup.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            Assert.Fail($"packaging/container-test.sh did not finish within {Limit}:\n{output}");
        }

        process.WaitForExit(); // the last output lines
        string text;
        lock (output)
        {
            text = output.ToString();
        }

        Assert.True(process.ExitCode == 0, $"packaging/container-test.sh exited with {process.ExitCode}:\n{text}");
        Assert.Contains("container-test: the broker runs as uid 1654 (app)", text, StringComparison.Ordinal);
        Assert.Contains("container-test: the image's HEALTHCHECK passes", text, StringComparison.Ordinal);
        Assert.Contains("Restored from /data: 0 sessions, 0 subscriptions, 0 queued and in-flight messages, 1 retained messages", text, StringComparison.Ordinal);
        Assert.Contains("container-test: read back: kept across a restart", text, StringComparison.Ordinal);
        Assert.Contains("container-test: dashboard GET / -> HTTP 200, <title>Tern Dashboard</title>", text, StringComparison.Ordinal);
        Assert.EndsWith("container-test: ok", text.TrimEnd(), StringComparison.Ordinal);
    }
}

/// <summary>A test that runs only with <c>TERN_CONTAINER_TEST=1</c> (root, podman and debootstrap, several minutes).</summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("TERN_CONTAINER_TEST") != "1")
        {
            Skip = "Builds and runs the container image (several minutes, as root): set TERN_CONTAINER_TEST=1, with podman, debootstrap and runc installed (apt-get install -y podman debootstrap runc).";
        }
    }
}
