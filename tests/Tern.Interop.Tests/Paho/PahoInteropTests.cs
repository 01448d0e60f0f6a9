using System.Globalization;
using Tern.TestKit;

namespace Tern.Interop.Tests.Paho;

/// <summary>paho-mqtt for Python (Debian python3-paho-mqtt) against Tern, through python/paho_interop.py.</summary>
public sealed class PahoInteropTests
{
    [Fact]
    public async Task PahoScript_QosRoundTripsRetainedWillAndPersistentSessionPass()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "python", "paho_interop.py");
        Assert.True(File.Exists(script), $"{script} was not copied to the output directory");
        await using var broker = await TestBroker.StartAsync();

        await using var python = ProcessRunner.Start(ExternalTools.Python3, ["-u", script, broker.Port.ToString(CultureInfo.InvariantCulture)], "python3");
        var exit = await python.WaitForExitAsync(TimeSpan.FromSeconds(90));

        Assert.True(exit == 0, $"paho_interop.py exited with {exit}:{Environment.NewLine}{python.Output}");
    }
}
