using System.Buffers;
using System.IO.Pipelines;
using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>Frames every complete packet of each read (one AdvanceTo per read) and handles it.</summary>
    private async Task ReadLoopAsync(Connection connection)
    {
        var ct = connection.Token;
        while (true)
        {
            ReadResult result = await connection.Input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            List<MqttMessage>? messages = null;
            try
            {
                while (MqttDecoder.TryReadFrame(ref buffer, connection.MaxIncomingPacketSize, out MqttFrame frame))
                {
                    MqttPacket packet = MqttDecoder.Decode(frame, connection.Version);
                    if (OnPacket(connection, packet) is { } message && _messages is not null)
                    {
                        (messages ??= []).Add(message);
                    }

                    if (connection.ServerDisconnect is not null)
                    {
                        return;
                    }
                }
            }
            finally
            {
                connection.Input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (messages is not null)
            {
                foreach (var message in messages)
                {
                    // A full channel pauses reading: backpressure to the server, never loss.
                    await _messages!.Writer.WriteAsync(message, ct).ConfigureAwait(false);
                }
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The server closed the connection.");
            }
        }
    }

    /// <summary>
    /// The only writer of the connection: on each wake, encodes everything pending (control packets,
    /// then outbox) into the pipe and flushes once.
    /// </summary>
    private async Task WriteLoopAsync(Connection connection)
    {
        var done = new List<(TaskCompletionSource<PublishResult> Completion, PublishResult Result)>();
        while (await connection.WaitForWorkAsync().ConfigureAwait(false))
        {
            connection.ConsumeWake();
            bool closing = DrainControl(connection, done);
            if (!closing)
            {
                DrainOutbox(connection, done);
            }

            if (connection.Output.UnflushedBytes > 0)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.Token);
                timeout.CancelAfter(Options.NetworkTimeout);
                FlushResult flushed = await connection.Output.FlushAsync(timeout.Token).ConfigureAwait(false);
                connection.LastSentTicks = Environment.TickCount64;
                if (flushed.IsCompleted)
                {
                    throw new IOException("The connection is closed for writing.");
                }
            }

            foreach (var (completion, result) in done)
            {
                completion.TrySetResult(result);
            }

            done.Clear();
            if (closing)
            {
                return;
            }
        }
    }

    /// <summary>Writes queued control packets; returns true after a DISCONNECT (nothing follows it).</summary>
    private static bool DrainControl(Connection connection, List<(TaskCompletionSource<PublishResult>, PublishResult)> done)
    {
        while (connection.Control.TryDequeue(out var item))
        {
            MqttEncoder.Write(connection.Output, item.Packet, connection.Version);
            if (item.Completion is not null)
            {
                done.Add((item.Completion, new PublishResult(0, ReasonCode.Success)));
            }

            if (item.Packet is DisconnectPacket)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes outbox messages not yet sent on this connection, within the server's receive maximum.</summary>
    private void DrainOutbox(Connection connection, List<(TaskCompletionSource<PublishResult>, PublishResult)> done)
    {
        List<OutboxItem>? finished = null;
        List<(OutboxItem Item, MqttClientException Error)>? refused = null;
        lock (_gate)
        {
            foreach (var item in _outbox)
            {
                if (item.State == OutboxState.ReleasePending)
                {
                    MqttEncoder.Write(connection.Output, new PubRelPacket { PacketId = item.PacketId }, connection.Version);
                    item.State = OutboxState.AwaitingComplete;
                    continue;
                }

                if (item.State != OutboxState.Queued)
                {
                    continue;
                }

                bool qos0 = item.Packet.QoS == MqttQoS.AtMostOnce;
                if (!qos0 && _outbox.InFlight >= connection.SendQuota)
                {
                    continue;
                }

                var packet = item.SentBefore && !qos0 ? item.Packet with { Dup = true } : item.Packet;
                if (CheckServerLimits(connection, packet) is { } error)
                {
                    // Queued before this server's CONNACK told its limits: drop it rather than be disconnected.
                    (refused ??= []).Add((item, error));
                    continue;
                }

                MqttEncoder.Write(connection.Output, packet, connection.Version);
                item.SentBefore = true;
                if (qos0)
                {
                    (finished ??= []).Add(item);
                }
                else
                {
                    _outbox.MarkSent(item, OutboxState.AwaitingAck);
                }
            }

            foreach (var item in (IEnumerable<OutboxItem>?)finished ?? [])
            {
                _outbox.Remove(item);
                if (item.Completion is not null)
                {
                    done.Add((item.Completion, new PublishResult(0, ReasonCode.Success)));
                }
            }

            foreach (var (item, _) in (IEnumerable<(OutboxItem, MqttClientException)>?)refused ?? [])
            {
                RemoveFromOutbox(item);
            }
        }

        foreach (var (item, error) in (IEnumerable<(OutboxItem, MqttClientException)>?)refused ?? [])
        {
            _events.Post(new DeletedEventArgs(this, item.PacketId, item.Packet.Topic, item.Packet.QoS));
            item.Completion?.TrySetException(error);
        }
    }

    /// <summary>
    /// Sends PINGREQ when nothing was sent for 3/4 of the keep alive; a PINGREQ unanswered for the
    /// network timeout ends the connection (only a Disconnected event, as esp-mqtt does).
    /// </summary>
    private async Task KeepAliveLoopAsync(Connection connection)
    {
        if (connection.KeepAlive <= TimeSpan.Zero)
        {
            await Task.Delay(Timeout.Infinite, connection.Token).ConfigureAwait(false);
            return;
        }

        long keepAliveMs = (long)connection.KeepAlive.TotalMilliseconds;
        long timeoutMs = (long)Options.NetworkTimeout.TotalMilliseconds;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(keepAliveMs / 4, 50, 5000)));
        while (await timer.WaitForNextTickAsync(connection.Token).ConfigureAwait(false))
        {
            long now = Environment.TickCount64;
            if (connection.PingSentTicks != 0)
            {
                if (now - connection.PingSentTicks > timeoutMs)
                {
                    throw new KeepAliveTimeoutException("No PINGRESP from the server.");
                }
            }
            else if (now - connection.LastSentTicks >= keepAliveMs * 3 / 4)
            {
                connection.PingSentTicks = now;
                connection.Enqueue(new SendItem(PingReqPacket.Instance));
            }
        }
    }
}
