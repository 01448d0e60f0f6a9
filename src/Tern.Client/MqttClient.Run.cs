using System.Text;
using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>Connect, serve, and on loss wait (backoff with jitter, or until ReconnectAsync) and repeat.</summary>
    private async Task RunAsync(CancellationToken stop)
    {
        int failures = 0;
        while (!stop.IsCancellationRequested)
        {
            bool connected = await ConnectAndServeAsync(stop).ConfigureAwait(false);
            failures = connected ? 0 : failures + 1;
            if (stop.IsCancellationRequested)
            {
                break;
            }

            TimeSpan delay;
            Task wake;
            lock (_gate)
            {
                bool hold = _holdDisconnected || !Options.AutoReconnect;
                _state = hold ? MqttClientState.Disconnected : MqttClientState.WaitingReconnect;
                delay = hold ? Timeout.InfiniteTimeSpan : Backoff(Math.Max(0, failures - 1));
                if (_reconnectNow.Task.IsCompleted)
                {
                    _reconnectNow = NewSignal();
                }

                wake = _reconnectNow.Task;
            }

            try
            {
                await wake.WaitAsync(delay, stop).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Backoff elapsed: try again.
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Exponential backoff with "equal jitter": half fixed, half random, so clients that lost one broker don't return in lockstep.</summary>
    private TimeSpan Backoff(int failures)
    {
        double baseMs = Math.Max(1, Options.ReconnectDelay.TotalMilliseconds);
        double capMs = Math.Max(baseMs, Options.MaxReconnectDelay.TotalMilliseconds);
        double ms = Math.Min(capMs, baseMs * Math.Pow(2, Math.Min(failures, 30)));
        return TimeSpan.FromMilliseconds((ms / 2) + (Random.Shared.NextDouble() * ms / 2));
    }

    /// <summary>One connection attempt and, if accepted, its whole life. Returns whether CONNACK accepted it.</summary>
    private async Task<bool> ConnectAndServeAsync(CancellationToken stop)
    {
        var before = new BeforeConnectEventArgs(this);
        _events.Post(before);
        try
        {
            await before.Handled.Task.WaitAsync(Options.NetworkTimeout, stop).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A handler that hangs must not stop the client from connecting.
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        Connection? connection = await OpenAsync(stop).ConfigureAwait(false);
        if (connection is null)
        {
            return false;
        }

        Exception? failure = null;
        try
        {
            failure = await ServeAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            OnConnectionEnded(connection, failure, stop.IsCancellationRequested);
            await connection.DisposeAsync().ConfigureAwait(false);
            connection.Finished.TrySetResult();
        }

        return true;
    }

    /// <summary>Opens the transport and does the CONNECT/CONNACK handshake; reports failures as Error events.</summary>
    private async Task<Connection?> OpenAsync(CancellationToken stop)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        attempt.CancelAfter(Options.NetworkTimeout);
        Connection? connection = null;
        try
        {
            BrokerEndpoint endpoint = BrokerEndpoint.Resolve(Options);
            var stream = await TransportConnector.ConnectAsync(endpoint, Options, attempt.Token).ConfigureAwait(false);
            int maxIn = Options.MaximumPacketSize is { } max ? (int)Math.Min(max, int.MaxValue) : 268_435_460;
            connection = new Connection(stream, Options.ProtocolVersion, maxIn);
            ConnAckPacket connack = await connection.HandshakeAsync(BuildConnect(endpoint), attempt.Token).ConfigureAwait(false);
            if (connack.ReasonCode != 0)
            {
                PostRefused(connack);
                await connection.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            OnConnected(connection, connack);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            if (!stop.IsCancellationRequested)
            {
                PostConnectFailure(ex);
            }

            return null;
        }
    }

    private void PostConnectFailure(Exception ex)
    {
        var (type, message) = ex switch
        {
            MqttTlsException => (MqttErrorType.Tls, ex.Message),
            MqttProtocolException => (MqttErrorType.Protocol, ex.Message),
            OperationCanceledException => (MqttErrorType.TcpTransport, $"No connection within {Options.NetworkTimeout.TotalSeconds:0.#} s."),
            _ => (MqttErrorType.TcpTransport, ex.Message),
        };
        _events.Post(new MqttErrorEventArgs(this, type, message, ex)
        {
            ReasonCode = (ex as MqttProtocolException)?.ReasonCode,
        });
    }

    private void PostRefused(ConnAckPacket connack)
    {
        bool v5 = Options.ProtocolVersion == MqttProtocolVersion.V500;
        string reason = v5
            ? $"{(ReasonCode)connack.ReasonCode} (0x{connack.ReasonCode:X2}){(connack.Properties?.ReasonString is { } s ? ": " + s : "")}"
            : $"{(ConnectReturnCode)connack.ReasonCode} ({connack.ReasonCode})";
        _events.Post(new MqttErrorEventArgs(this, MqttErrorType.ConnectionRefused, "Connection refused: " + reason)
        {
            ConnectReturnCode = v5 ? null : (ConnectReturnCode)connack.ReasonCode,
            ReasonCode = v5 ? (ReasonCode)connack.ReasonCode : null,
        });
    }

    private ConnectPacket BuildConnect(BrokerEndpoint endpoint)
    {
        var o = Options;
        bool v5 = o.ProtocolVersion == MqttProtocolVersion.V500;
        ushort keepAlive = o.DisableKeepAlive ? (ushort)0
            : (ushort)Math.Clamp(o.KeepAlive <= TimeSpan.Zero ? 120 : Math.Ceiling(o.KeepAlive.TotalSeconds), 1, ushort.MaxValue);
        WillMessage? will = string.IsNullOrEmpty(o.LastWillTopic) ? null : new WillMessage
        {
            Topic = o.LastWillTopic,
            Payload = o.LastWillMessage,
            QoS = o.LastWillQoS,
            Retain = o.LastWillRetain,
            Properties = v5 ? o.LastWillProperties : null,
        };
        MqttProperties? properties = null;
        if (v5 && (o.SessionExpiryInterval.HasValue || o.ReceiveMaximum.HasValue || o.MaximumPacketSize.HasValue
            || o.TopicAliasMaximum.HasValue || o.UserProperties is { Count: > 0 }))
        {
            properties = new MqttProperties
            {
                SessionExpiryInterval = o.SessionExpiryInterval,
                ReceiveMaximum = o.ReceiveMaximum,
                MaximumPacketSize = o.MaximumPacketSize,
                TopicAliasMaximum = o.TopicAliasMaximum,
                UserProperties = o.UserProperties,
            };
        }

        return new ConnectPacket
        {
            ProtocolVersion = o.ProtocolVersion,
            IsBridge = o.BridgeProtocolLevel && o.ProtocolVersion != MqttProtocolVersion.V500,
            ClientId = ClientId,
            CleanSession = o.CleanSession,
            KeepAlive = keepAlive,
            Username = endpoint.Username,
            Password = endpoint.Password is null ? (ReadOnlyMemory<byte>?)null : Encoding.UTF8.GetBytes(endpoint.Password),
            Will = will,
            Properties = properties,
        };
    }
}
