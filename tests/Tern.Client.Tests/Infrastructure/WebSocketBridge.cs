using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Client.Tests;

/// <summary>
/// A minimal MQTT-over-WebSocket front for Mosquitto (Debian's build cannot open a websockets
/// listener here): does the HTTP upgrade, checks the subprotocol, and pumps bytes both ways.
/// Broker-to-client bytes are re-framed in small WebSocket messages so packets span frames.
/// </summary>
public sealed class WebSocketBridge : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _brokerPort;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _accept;

    public WebSocketBridge(int brokerPort)
    {
        _brokerPort = brokerPort;
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string? LastPath { get; private set; }

    public string? LastSubProtocol { get; private set; }

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_cts.Token);
            }
            catch (Exception)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var headers = await ReadHeadersAsync(stream);
        string[] requestLine = headers[0].Split(' ');
        LastPath = requestLine[1];
        string key = Header(headers, "Sec-WebSocket-Key");
        LastSubProtocol = Header(headers, "Sec-WebSocket-Protocol");
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + $"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response));

        using var ws = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, SubProtocol = "mqtt" });
        using var broker = new TcpClient();
        await broker.ConnectAsync(IPAddress.Loopback, _brokerPort);
        var tcp = broker.GetStream();
        var toBroker = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, _cts.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    broker.Client.Shutdown(SocketShutdown.Send);
                    return;
                }

                await tcp.WriteAsync(buffer.AsMemory(0, r.Count), _cts.Token);
            }
        });
        var toClient = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (true)
            {
                int n = await tcp.ReadAsync(buffer, _cts.Token);
                if (n == 0)
                {
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _cts.Token);
                    return;
                }

                for (int offset = 0; offset < n; offset += 7)
                {
                    await ws.SendAsync(buffer.AsMemory(offset, Math.Min(7, n - offset)), WebSocketMessageType.Binary, true, _cts.Token);
                }
            }
        });
        try
        {
            await Task.WhenAny(toBroker, toClient);
        }
        catch (Exception)
        {
            // A closed side ends the bridge for this client.
        }
    }

    private static async Task<List<string>> ReadHeadersAsync(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || bytes[^4] != '\r' || bytes[^3] != '\n' || bytes[^2] != '\r' || bytes[^1] != '\n')
        {
            if (await stream.ReadAsync(one) == 0)
            {
                throw new IOException("Connection closed during the upgrade.");
            }

            bytes.Add(one[0]);
        }

        return [.. Encoding.ASCII.GetString([.. bytes]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries)];
    }

    private static string Header(List<string> headers, string name)
        => headers.FirstOrDefault(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim() ?? "";

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        await _accept;
        _cts.Dispose();
    }
}
