using Tern.Protocol;
using Tern.Server;

// appsettings.json is read from beside the program, wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// The broker takes its settings from the app's "Tern" section (appsettings.json, --Tern:Key=value
// on the command line) and listens on its own ports; the app's endpoints stay on the app's Kestrel.
var brokerSettings = builder.Configuration.GetSection("Tern").AsEnumerable(makePathsRelative: true)
    .Where(pair => pair.Value is not null)
    .ToDictionary(pair => pair.Key, pair => pair.Value);
builder.Services.AddSingleton(_ => TernServer.Create(overrides: brokerSettings));
builder.Services.AddHostedService<BrokerService>();

var app = builder.Build();

app.MapGet("/", (TernServer tern) =>
    $"MQTT on port {tern.TcpPort}, {tern.Broker.ConnectedClients} client(s) connected\n");

// An HTTP way in for the devices' topics: POST /publish/devices/42/cmd with the payload as the body.
app.MapPost("/publish/{**topic}", async (string topic, HttpRequest request, TernServer tern) =>
{
    using var body = new MemoryStream();
    await request.Body.CopyToAsync(body);
    if (!MqttTopic.IsValidTopicName(topic))
    {
        return Results.Problem($"'{topic}' is not an MQTT topic name", statusCode: StatusCodes.Status400BadRequest);
    }

    var matched = tern.Broker.Publish(topic, body.ToArray());
    return Results.Ok(new { topic, matched });
});

app.Run();

/// <summary>Starts the broker with the app and stops it with the app (Ctrl+C, SIGTERM).</summary>
internal sealed class BrokerService(TernServer tern) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await tern.StartAsync(cancellationToken);
        Console.WriteLine($"MQTT on port {tern.TcpPort}");
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await tern.StopAsync(cancellationToken);
}
