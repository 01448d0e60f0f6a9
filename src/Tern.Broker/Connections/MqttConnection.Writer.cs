using System.IO.Pipelines;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    // Flush inside a long batch so a burst does not pile up in the pipe unbounded.
    private const int FlushThreshold = 64 * 1024;

    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        var reader = _outbound.Reader;
        var output = _transport.Output;
        var countBytes = output.CanGetUnflushedBytes;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
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
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // The transport is gone; the read loop sees it too.
            _closeReason ??= "socket error while writing";
            _transport.Input.CancelPendingRead();
        }
    }

    private void Write(PipeWriter output, in OutboundItem item)
    {
        if (item.Message is { } message)
        {
            if (item.QoS == MqttQoS.AtMostOnce)
            {
                Interlocked.Decrement(ref _qos0Backlog);
            }

            MqttEncoder.WritePublish(
                output,
                Version,
                message.TopicUtf8,
                message.Payload.Span,
                item.QoS,
                item.Retain,
                item.Dup,
                item.PacketId,
                Version == MqttProtocolVersion.V500 ? message.Properties : null);
            _messagesSent++;
        }
        else
        {
            Interlocked.Decrement(ref _controlBacklog);
            MqttEncoder.Write(output, item.Control!, Version);
        }
    }

    private async ValueTask<bool> FlushAsync(PipeWriter output, bool countBytes)
    {
        if (countBytes)
        {
            Volatile.Write(ref _bytesSent, _bytesSent + output.UnflushedBytes);
        }

        var flush = await output.FlushAsync().ConfigureAwait(false);
        return !flush.IsCompleted && !flush.IsCanceled;
    }
}
