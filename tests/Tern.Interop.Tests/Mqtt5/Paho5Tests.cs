using System.Globalization;
using Tern.TestKit;

namespace Tern.Interop.Tests.Mqtt5;

/// <summary>paho-mqtt for Python in MQTTv5 mode against Tern, through python/paho_mqtt5.py.</summary>
public sealed class Paho5Tests
{
    [Fact]
    public async Task PahoMqtt5Script_ConnAckUserPropertiesRequestResponseSubscriptionIdsSessionExpiryAndWillPass()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "python", "paho_mqtt5.py");
        Assert.True(File.Exists(script), $"{script} was not copied to the output directory");
        await using var broker = await TestBroker.StartAsync();

        await using var python = ProcessRunner.Start(ExternalTools.Python3, ["-u", script, broker.Port.ToString(CultureInfo.InvariantCulture)], "python3");
        var exit = await python.WaitForExitAsync(TimeSpan.FromSeconds(90));

        Assert.True(exit == 0, $"paho_mqtt5.py exited with {exit}:{Environment.NewLine}{python.Output}");
    }
}
