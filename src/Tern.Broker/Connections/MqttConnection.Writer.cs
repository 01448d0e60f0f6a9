using System.IO.Pipelines;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    // Flush inside a long batch so a burst does not pile up in the pipe unbounded.
    private const int FlushThreshold = 64 * 1024;

    private async Task WriteLoopAsync()
    {
        // Off the read loop's thread, as a continuation of the read loop's first pending read would be.
        await Task.Yield();
        var output = _transport.Output;
        var countBytes = output.CanGetUnflushedBytes;
        Queue<OutboundItem>? items = null;
        try
        {
            while (true)
            {
                if (!_outbound.TryTakeAll(ref items, out var first, out var hasFirst))
                {
                    if (!await _outbound.WaitAsync().ConfigureAwait(false))
                    {
                        // Completed, or parked after a tick with nothing to send.
                        _outbound.OnWriterReturned();
                        return;
                    }

                    continue;
                }

                if (hasFirst)
                {
                    Write(output, first);
                }

                while (items is not null && items.TryDequeue(out var item))
                {
                    Write(output, item);
                    if (countBytes && output.UnflushedBytes >= FlushThreshold && !await FlushAsync(output, countBytes).ConfigureAwait(false))
                    {
                        return;
                    }
                }

                if (!await FlushAsync(output, countBytes).ConfigureAwait(false))
                {
                    return;
                }

                if (OutboundQueue.RunningInline && _outbound.HasItems)
                {
                    await Task.Yield();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException
            || (ex is InvalidOperationException && Volatile.Read(ref _closeRequested) != 0))
        {
            // The transport is gone; the read loop sees it too.
            _closeReason ??= "socket error while writing";
            _transport.Input.CancelPendingRead();
        }
        catch (Exception ex)
        {
            // Not the transport: a defect. The connection must not live on with a dead writer.
            OnInternalError(ex, "writer");
        }
    }

    private void Write(PipeWriter output, in OutboundItem item)
    {
        if (_broker.Traces.Active)
        {
            _broker.Traces.Outbound(this, item.Control, item.Message, item.QoS, item.PacketId, item.Retain, item.Dup);
        }

        if (item.Message is null)
        {
            Interlocked.Decrement(ref _controlBacklog);
            MqttEncoder.Write(output, item.Control!, Version);
            return;
        }

        if (item.QoS == MqttQoS.AtMostOnce)
        {
            Interlocked.Decrement(ref _qos0Backlog);
        }

        var message = item.Message;
        ReadOnlySpan<byte> topic = message.TopicUtf8;
        MqttProperties? properties = null;
        var aliasToAdd = (ushort)0;
        if (Version == MqttProtocolVersion.V500)
        {
            properties = OutgoingProperties(item, out var alias, out var aliasIsNew);
            if (alias != 0 && !aliasIsNew)
            {
                topic = [];
            }
            else if (aliasIsNew)
            {
                aliasToAdd = alias;
            }

            var size = MqttEncoder.GetPublishSize(Version, topic.Length, message.Payload.Length, item.QoS, properties);
            if (size > _clientMaximumPacketSize)
            {
                // [MQTT-3.1.2-25] too large for the client: dropped as if delivered.
                _broker.Dropped(DropReason.TooLargeForClient, _session);
                if (item.QoS != MqttQoS.AtMostOnce)
                {
                    _session?.OnDiscarded(item.PacketId);
                }

                return;
            }
        }

        if (aliasToAdd != 0)
        {
            _outboundAliases![message.Topic] = aliasToAdd;
        }

        MqttEncoder.WritePublish(output, Version, topic, message.Payload.Span, item.QoS, item.Retain, item.Dup, item.PacketId, properties);
        _messagesSent++;
        _messagesSentByQoS[(int)item.QoS]++;
    }

    /// <summary>
    /// MQTT 5 PUBLISH properties for this subscriber: the publisher's, plus subscription ids, the
    /// remaining expiry and a topic alias. Allocates only when one of those applies.
    /// </summary>
    private MqttProperties? OutgoingProperties(in OutboundItem item, out ushort alias, out bool aliasIsNew)
    {
        var message = item.Message!;
        alias = 0;
        aliasIsNew = false;
        if (_clientTopicAliasMaximum > 0)
        {
            _outboundAliases ??= new Dictionary<string, ushort>(StringComparer.Ordinal);
            if (_outboundAliases.TryGetValue(message.Topic, out alias))
            {
                aliasIsNew = false;
            }
            else if (_outboundAliases.Count < _clientTopicAliasMaximum)
            {
                alias = (ushort)(_outboundAliases.Count + 1);
                aliasIsNew = true;
            }
        }

        var properties = message.Properties;
        if (item.SubscriptionIds is null && !message.HasExpiry && alias == 0)
        {
            return properties;
        }

        return (properties ?? MqttProperties.Empty) with
        {
            SubscriptionIdentifiers = item.SubscriptionIds,
            MessageExpiryInterval = message.HasExpiry ? message.RemainingExpirySeconds(_broker.NowMs) : null,
            TopicAlias = alias != 0 ? alias : null,
        };
    }

    private async ValueTask<bool> FlushAsync(PipeWriter output, bool countBytes)
    {
        if (countBytes)
        {
            Volatile.Write(ref _bytesSent, _bytesSent + output.UnflushedBytes);
        }

        var pending = output.FlushAsync();
        if (!pending.IsCompleted)
        {
            // The transport holds more than it lets through: the write deadline runs from here.
            Volatile.Write(ref _flushStalledSince, _broker.NowMs);
        }

        var flush = await pending.ConfigureAwait(false);
        Volatile.Write(ref _flushStalledSince, 0);
        return !flush.IsCompleted && !flush.IsCanceled;
    }
}
