using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>CONNACK accepted: adopt the server's limits, restore the session, queue resends and resubscribes.</summary>
    private void OnConnected(Connection connection, ConnAckPacket connack)
    {
        var p = connack.Properties;
        if (p?.ReceiveMaximum is { } receiveMax)
        {
            connection.SendQuota = receiveMax;
        }

        if (p?.MaximumPacketSize is { } maxPacket)
        {
            connection.ServerMaxPacketSize = maxPacket;
        }

        if (p?.MaximumQoS is { } maxQoS)
        {
            connection.ServerMaximumQoS = (MqttQoS)Math.Min(maxQoS, (byte)MqttQoS.ExactlyOnce);
        }

        if (p?.RetainAvailable is { } retainAvailable)
        {
            connection.ServerRetainAvailable = retainAvailable != 0;
        }

        connection.KeepAlive = Options.DisableKeepAlive ? TimeSpan.Zero
            : p?.ServerKeepAlive is { } serverKeepAlive ? TimeSpan.FromSeconds(serverKeepAlive)
            : Options.KeepAlive <= TimeSpan.Zero ? TimeSpan.FromSeconds(120) : Options.KeepAlive;

        lock (_gate)
        {
            if (!connack.SessionPresent)
            {
                // The server forgot our QoS 2 receptions, so a repeated packet id is a new message.
                _inboundQoS2.Clear();
                Resubscribe(connection);
            }

            _outbox.PrepareResend();
            _connection = connection;
            _state = MqttClientState.Connected;
        }

        _events.Post(new ConnectedEventArgs(this, connack.SessionPresent, p));
        connection.Signal();
    }

    /// <summary>Restores subscriptions the server lost (session present = 0). Silent: no Subscribed events.</summary>
    private void Resubscribe(Connection connection)
    {
        var plain = new List<TopicSubscription>();
        foreach (var (subscription, properties) in _subscriptions.Values)
        {
            if (properties is null)
            {
                plain.Add(subscription);
            }
            else
            {
                SendSubscribe(connection, [subscription], properties, null, silent: true);
            }
        }

        if (plain.Count > 0)
        {
            SendSubscribe(connection, plain, null, null, silent: true);
        }
    }

    /// <summary>Runs the reader, writer and keep-alive loops until one ends; returns why (null: closed by us).</summary>
    private async Task<Exception?> ServeAsync(Connection connection)
    {
        Task reader = ReadLoopAsync(connection);
        Task writer = WriteLoopAsync(connection);
        Task keepAlive = KeepAliveLoopAsync(connection);
        Task first = await Task.WhenAny(reader, writer, keepAlive).ConfigureAwait(false);
        connection.Abort();
        try
        {
            await Task.WhenAll(reader, writer, keepAlive).ConfigureAwait(false);
        }
        catch
        {
            // Only the first failure explains the loss; the others are its echo.
        }

        return first.Exception?.GetBaseException();
    }

    /// <summary>Fails what cannot survive the connection and reports the loss (not after StopAsync).</summary>
    private void OnConnectionEnded(Connection connection, Exception? failure, bool stopping)
    {
        List<PendingRequest> lost;
        lock (_gate)
        {
            _connection = null;
            _state = MqttClientState.Disconnected;
            lost = [.. _pending.Values];
            foreach (var request in lost)
            {
                _ids.Release(request.PacketId);
            }

            _pending.Clear();
        }

        var gone = new MqttClientException("The connection was lost before the server answered.", failure);
        foreach (var request in lost)
        {
            request.Fail(gone);
        }

        while (connection.Control.TryDequeue(out var item))
        {
            item.Completion?.TrySetException(gone);
        }

        if (stopping)
        {
            return;
        }

        bool clean = connection.ClientInitiatedClose;
        var server = connection.ServerDisconnect;
        if (!clean && server is null && failure is not null and not KeepAliveTimeoutException)
        {
            // esp-mqtt: a transmit/receive error is ERROR then DISCONNECTED; a missed ping only DISCONNECTED.
            var type = failure is MqttProtocolException ? MqttErrorType.Protocol : MqttErrorType.TcpTransport;
            _events.Post(new MqttErrorEventArgs(this, type, failure.Message, failure)
            {
                ReasonCode = (failure as MqttProtocolException)?.ReasonCode,
            });
        }

        string? reason = server is not null
            ? $"The server sent DISCONNECT {server.ReasonCode} (0x{(byte)server.ReasonCode:X2}){(server.Properties?.ReasonString is { } s ? ": " + s : "")}"
            : clean ? "Disconnected by the client." : failure?.Message ?? "The connection closed.";
        _events.Post(new DisconnectedEventArgs(this, clean, server?.ReasonCode, reason, clean ? null : failure) { Properties = server?.Properties });
    }
}

/// <summary>No PINGRESP within the network timeout.</summary>
internal sealed class KeepAliveTimeoutException(string message) : IOException(message);
