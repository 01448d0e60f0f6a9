using Tern.Server;

await using var server = TernServer.Create(overrides: new Dictionary<string, string?>
{
    ["Listeners:Tcp:Address"] = "127.0.0.1",
    ["Listeners:Tcp:Port"] = "0",   // a free port; the WebSocket listener and the dashboard then take free ports on 127.0.0.1 too
});
await server.StartAsync();
Console.WriteLine($"MQTT on port {server.TcpPort}, WebSocket on {server.WsPort}, dashboard on {server.DashboardPort}");
await server.WaitForShutdownAsync();   // Ctrl+C, SIGTERM or server.StopAsync()
