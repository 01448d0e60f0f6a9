using System.Globalization;
using MQTTnet.Server;

// An MQTTnet server with default options on the given port (default 1883), for bench/compare.
// It runs until Ctrl+C or SIGTERM.
int port = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1883;
var options = new MqttServerOptionsBuilder()
    .WithDefaultEndpoint()
    .WithDefaultEndpointPort(port)
    .Build();

using var server = new MqttServerFactory().CreateMqttServer(options);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM,
    c =>
    {
        c.Cancel = true;
        stop.Cancel();
    });

await server.StartAsync().ConfigureAwait(false);
Console.WriteLine($"MQTTnet server listening on port {port}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
}
catch (OperationCanceledException)
{
}

await server.StopAsync().ConfigureAwait(false);
