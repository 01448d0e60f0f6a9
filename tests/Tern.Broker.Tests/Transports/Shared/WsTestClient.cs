using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>A raw MQTT-over-WebSocket connection: the test decides how bytes are cut into frames.</summary>
public sealed class WsTestClient : IAsyncDisposable
{
    private readonly List<byte> _received = [];

    private WsTestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static async Task<WsTestClient> ConnectAsync(string uri, string? subProtocol = "mqtt", string? caPem = null)
    {
        var socket = new ClientWebSocket();
        if (subProtocol is not null)
        {
            socket.Options.AddSubProtocol(subProtocol);
        }

        if (caPem is not null)
        {
            var ca = X509Certificate2.CreateFromPem(caPem);
            socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsTo(ca, certificate);
        }

        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        try
        {
            await socket.ConnectAsync(new Uri(uri), cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new WsTestClient(socket);
    }

    /// <summary>Sends <paramref name="bytes"/> as one binary message made of the given fragments (continuation frames).</summary>
    public async Task SendFragmentsAsync(params byte[][] fragments)
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        for (var i = 0; i < fragments.Length; i++)
        {
            await Socket.SendAsync(fragments[i], WebSocketMessageType.Binary, endOfMessage: i == fragments.Length - 1, cts.Token);
        }
    }

    /// <summary>Sends each array as its own binary message.</summary>
    public async Task SendMessagesAsync(params byte[][] messages)
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        foreach (var message in messages)
        {
            await Socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
        }
    }

    /// <summary>Reads the next whole MQTT packet (fixed header included), however the server framed it.</summary>
    public async Task<byte[]> ReceivePacketAsync()
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        var buffer = new byte[4096];
        while (true)
        {
            if (TryTakePacket(out var packet))
            {
                return packet;
            }

            var result = await Socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new IOException($"WebSocket closed by the server ({result.CloseStatus}) while waiting for a packet.");
            }

            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            _received.AddRange(buffer.AsSpan(0, result.Count));
        }
    }

    /// <summary>Waits for the server's close frame and returns its status.</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync()
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Close);
        var buffer = new byte[4096];
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return result.CloseStatus;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Close);
            try
            {
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server is gone already.
            }
        }

        Socket.Dispose();
    }

    private bool TryTakePacket(out byte[] packet)
    {
        packet = [];
        if (_received.Count < 2)
        {
            return false;
        }

        var length = 0;
        var multiplier = 1;
        var index = 1;
        while (true)
        {
            if (index >= _received.Count)
            {
                return false;
            }

            var b = _received[index++];
            length += (b & 0x7F) * multiplier;
            multiplier *= 128;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        if (_received.Count < index + length)
        {
            return false;
        }

        packet = [.. _received.GetRange(0, index + length)];
        _received.RemoveRange(0, index + length);
        return true;
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }
}
