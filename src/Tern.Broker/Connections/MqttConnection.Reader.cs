using System.Buffers;
using System.IO.Pipelines;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private enum ReadStatus
    {
        /// <summary>All complete packets handled; read more.</summary>
        NeedMore,

        /// <summary>The connection ends.</summary>
        Stop,

        /// <summary>A packet needs asynchronous handling (enhanced authentication).</summary>
        Async,

        /// <summary>The client is over its publish or byte rate: pause before the next packet.</summary>
        Throttle,
    }

    /// <summary>
    /// The connection's task: the read loop, then the close. One async method, as its frame is what
    /// an idle connection keeps allocated while it waits for data: only what must live across its
    /// awaits is in it (a batch is handled in <see cref="OnRead"/>, and the rare batch that must wait
    /// in a frame of its own, <see cref="ReadSlowAsync"/>).
    /// </summary>
    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                // No token here: a transport that closes completes the pipe, and the packets it
                // delivered before that (a DISCONNECT, say) are still read.
                var read = _transport.Input.ReadAsync(CancellationToken.None);
                if (!read.IsCompleted)
                {
                    _ = StartWriter();
                }

                var result = await read.ConfigureAwait(false);
                if (result.IsCanceled || Volatile.Read(ref _closeRequested) != 0)
                {
                    return;
                }

                var status = OnRead(result, cancellationToken, out var slow);
                if (slow is not null)
                {
                    status = await slow.ConfigureAwait(false);
                }

                if (status == ReadStatus.Stop)
                {
                    return;
                }
            }
        }
        catch (MqttProtocolException ex)
        {
            OnProtocolViolation(ex.Message, ex.ReasonCode);
        }
        catch (OperationCanceledException)
        {
            _closeReason ??= "connection aborted";
        }
        catch (IOException ex)
        {
            _closeReason ??= "socket error: " + ex.Message;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            _closeReason ??= "transport closed";
        }
        catch (Exception ex)
        {
            OnInternalError(ex, "reader");
        }
        finally
        {
            try
            {
                await CloseAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Logged here: a transport told by Completed does not look at this task.
                _broker.Statistics.InternalError();
                Log.UnexpectedError(_logger, ex, LogName, "close");
            }
            finally
            {
                _info.Control?.Completed();
            }
        }
    }

    /// <summary>
    /// Handles the complete packets of one read and gives back what was consumed. A batch that must
    /// wait (enhanced authentication, a throttled client) goes on in <paramref name="slow"/>, which
    /// then owns the read's buffer.
    /// </summary>
    private ReadStatus OnRead(in ReadResult result, CancellationToken cancellationToken, out Task<ReadStatus>? slow)
    {
        slow = null;
        var buffer = result.Buffer;
        ReadStatus status;
        try
        {
            status = ProcessBatch(ref buffer, out var pending);
            if (status is ReadStatus.Async or ReadStatus.Throttle)
            {
                slow = ReadSlowAsync(result, buffer, status, pending, cancellationToken);
                return ReadStatus.Async;
            }
        }
        catch (Exception ex) when (ex is not (MqttProtocolException or OperationCanceledException))
        {
            // Handling a packet threw (a defect, a throwing authenticator or authorizer): not
            // the transport closing, whatever the exception's type.
            OnInternalError(ex, "handler");
            status = ReadStatus.Stop;
        }
        finally
        {
            if (slow is null)
            {
                // Consumed up to the last whole packet; everything was examined, so an incomplete
                // packet waits for more bytes instead of spinning.
                _transport.Input.AdvanceTo(buffer.Start, buffer.End);
            }
        }

        return AfterRead(result, buffer, status);
    }

    /// <summary>The rest of a batch that waits between packets; returns as <see cref="OnRead"/> does.</summary>
    private async Task<ReadStatus> ReadSlowAsync(ReadResult result, ReadOnlySequence<byte> buffer, ReadStatus status, MqttPacket? pending, CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                if (status == ReadStatus.Throttle)
                {
                    // Stop reading for a while and let TCP push back, rather than drop messages (as EMQX does).
                    await Task.Delay(_throttle!.Delay(), _broker.Time).ConfigureAwait(false);
                }
                else if (!await HandleAsync(pending!, cancellationToken).ConfigureAwait(false))
                {
                    status = ReadStatus.Stop;
                    break;
                }
            }
            while ((status = ProcessBatch(ref buffer, out pending)) is ReadStatus.Async or ReadStatus.Throttle);
        }
        catch (Exception ex) when (ex is not (MqttProtocolException or OperationCanceledException))
        {
            OnInternalError(ex, "handler");
            status = ReadStatus.Stop;
        }
        finally
        {
            _transport.Input.AdvanceTo(buffer.Start, buffer.End);
        }

        return AfterRead(result, buffer, status);
    }

    /// <summary>After a batch: <see cref="ReadStatus.Stop"/> if the connection ends, else <see cref="ReadStatus.NeedMore"/>.</summary>
    private ReadStatus AfterRead(in ReadResult result, in ReadOnlySequence<byte> buffer, ReadStatus status)
    {
        if (status == ReadStatus.Stop || Volatile.Read(ref _closeRequested) != 0)
        {
            return ReadStatus.Stop;
        }

        Volatile.Write(ref _partialSince, buffer.IsEmpty ? 0 : _partialSince == 0 ? _broker.NowMs : _partialSince);
        if (result.IsCompleted)
        {
            _closeReason ??= buffer.IsEmpty ? "connection closed by client" : "connection closed in the middle of a packet";
            return ReadStatus.Stop;
        }

        return ReadStatus.NeedMore;
    }

    /// <summary><see cref="ProcessPackets"/>, then the writers it queued packets for write them on this thread.</summary>
    private ReadStatus ProcessBatch(ref ReadOnlySequence<byte> buffer, out MqttPacket? pending)
    {
        var scope = OutboundQueue.BeginBatch();
        try
        {
            return ProcessPackets(ref buffer, out pending);
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }
    }

    /// <summary>Handles every complete packet in <paramref name="buffer"/> that can be handled synchronously.</summary>
    private ReadStatus ProcessPackets(ref ReadOnlySequence<byte> buffer, out MqttPacket? pending)
    {
        pending = null;
        var maxPacketSize = _broker.Options.MaxPacketSize;
        if (!_connectReceived && !buffer.IsEmpty && buffer.FirstSpan[0] >> 4 != (int)MqttPacketType.Connect)
        {
            // [MQTT-3.1.0-1] decided on the first byte: no need to buffer what is not MQTT at all.
            throw MqttProtocolException.ProtocolError($"first packet was type {buffer.FirstSpan[0] >> 4}, not CONNECT");
        }

        while (true)
        {
            if (_throttle is not null && IsConnected && _throttle.Delay() > TimeSpan.Zero)
            {
                return ReadStatus.Throttle;
            }

            if (!MqttDecoder.TryReadFrame(ref buffer, maxPacketSize, out var frame))
            {
                break;
            }

            _bytesReceived += frame.Length;
            Volatile.Write(ref _lastActivity, _broker.NowMs);
            _throttle?.Spend(frame.Type == MqttPacketType.Publish ? 1 : 0, frame.Length);

            var packet = MqttDecoder.Decode(frame, Version);
            CheckUserProperties(packet);
            if (RequiresAsync(packet))
            {
                pending = packet;
                return ReadStatus.Async;
            }

            if (!Dispatch(packet) || Volatile.Read(ref _closeRequested) != 0)
            {
                return ReadStatus.Stop;
            }
        }

        return ReadStatus.NeedMore;
    }

    /// <summary>Bounds the user properties a client may make the broker hold and forward.</summary>
    private void CheckUserProperties(MqttPacket packet)
    {
        var properties = packet switch
        {
            PublishPacket p => p.Properties,
            ConnectPacket c => c.Properties,
            SubscribePacket s => s.Properties,
            _ => null,
        };
        var count = (properties?.UserProperties?.Count ?? 0) + ((packet as ConnectPacket)?.Will?.Properties?.UserProperties?.Count ?? 0);
        if (count > _broker.Options.MaxUserProperties)
        {
            throw new MqttProtocolException(ReasonCode.QuotaExceeded, $"{count} user properties, more than Broker:MaxUserProperties ({_broker.Options.MaxUserProperties})");
        }
    }

    private bool RequiresAsync(MqttPacket packet) => packet switch
    {
        ConnectPacket connect => !_connectReceived && (connect.Properties?.AuthenticationMethod is not null || _broker.Authenticators.Count > 0),
        AuthPacket => IsV5,
        _ => false,
    };

    private Task<bool> HandleAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        if (packet is ConnectPacket or AuthPacket && _broker.Traces.Active)
        {
            // Dispatch traces the others.
            _broker.Traces.Inbound(this, packet);
        }

        return packet switch
        {
            ConnectPacket connect => connect.Properties?.AuthenticationMethod is not null
                ? HandleAuthenticatedConnectAsync(connect, cancellationToken)
                : HandleCheckedConnectAsync(connect, cancellationToken),
            AuthPacket auth => HandleAuthAsync(auth, cancellationToken),
            _ => Task.FromResult(Dispatch(packet)),
        };
    }

    /// <summary>
    /// Handles one packet. A PUBLISH (routing to many sessions) or a CONNECT (a takeover, a session
    /// ended) is one store operation (see <see cref="Persistence.StoreWriter"/>): what it changes in
    /// several sessions is stored together. The other packets change only this connection's session,
    /// whose lock already keeps its changes whole.
    /// </summary>
    private bool Dispatch(MqttPacket packet)
    {
        if (_broker.Traces.Active)
        {
            _broker.Traces.Inbound(this, packet);
        }

        var store = _broker.Store;
        if (store is null || packet is not (PublishPacket or ConnectPacket))
        {
            return DispatchCore(packet);
        }

        store.Enter();
        try
        {
            return DispatchCore(packet);
        }
        finally
        {
            store.Exit();
        }
    }

    private bool DispatchCore(MqttPacket packet)
    {
        if (_authExchange is not null && !IsConnected && packet is not DisconnectPacket)
        {
            // [MQTT-4.12.0-5] only AUTH or DISCONNECT while the authentication exchange runs.
            throw MqttProtocolException.ProtocolError($"{packet.Type} during enhanced authentication");
        }

        if (_session is { } owned && !ReferenceEquals(owned.Owner, this) && packet is not DisconnectPacket)
        {
            // Taken over while this read was in progress: the session is the new connection's now,
            // and a late acknowledgement here would be answered on the wrong connection.
            _closeReason ??= "session taken over by a new connection";
            return false;
        }

        switch (packet)
        {
            case PublishPacket publish:
                HandlePublish(publish);
                return true;
            case PubAckPacket ack:
                _session!.OnPubAck(ack.PacketId);
                return true;
            case PubRecPacket rec:
                HandlePubRec(rec);
                return true;
            case PubRelPacket rel:
                HandlePubRel(rel);
                return true;
            case PubCompPacket comp:
                _session!.OnPubComp(comp.PacketId);
                return true;
            case SubscribePacket subscribe:
                HandleSubscribe(subscribe);
                return true;
            case UnsubscribePacket unsubscribe:
                HandleUnsubscribe(unsubscribe);
                return true;
            case PingReqPacket:
                SendControl(PingRespPacket.Instance);
                return true;
            case DisconnectPacket disconnect:
                return HandleDisconnect(disconnect);
            case ConnectPacket connect:
                if (_connectReceived)
                {
                    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
                    throw MqttProtocolException.ProtocolError("second CONNECT on the connection");
                }

                _connectReceived = true;
                return HandleConnect(connect, null, null, _info.CertificateUsername ?? connect.Username, null);
            default:
                throw MqttProtocolException.ProtocolError($"{packet.Type} is not sent by clients");
        }
    }
}
