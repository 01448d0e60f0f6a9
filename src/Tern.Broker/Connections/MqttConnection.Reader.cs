using System.Buffers;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var input = _transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCanceled || Volatile.Read(ref _closeRequested) != 0)
            {
                return;
            }

            var buffer = result.Buffer;
            bool keepReading;
            try
            {
                keepReading = ProcessPackets(ref buffer);
            }
            finally
            {
                // Consumed up to the last whole packet; everything was examined, so an incomplete
                // packet waits for more bytes instead of spinning.
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (!keepReading)
            {
                return;
            }

            if (result.IsCompleted)
            {
                _closeReason ??= buffer.IsEmpty ? "connection closed by client" : "connection closed in the middle of a packet";
                return;
            }
        }
    }

    /// <summary>Handles every complete packet in <paramref name="buffer"/>; false ends the connection.</summary>
    private bool ProcessPackets(ref ReadOnlySequence<byte> buffer)
    {
        var maxPacketSize = _broker.Options.MaxPacketSize;
        if (!IsConnected && !buffer.IsEmpty && buffer.FirstSpan[0] >> 4 != (int)MqttPacketType.Connect)
        {
            // [MQTT-3.1.0-1] decided on the first byte: no need to buffer what is not MQTT at all.
            throw MqttProtocolException.ProtocolError($"first packet was type {buffer.FirstSpan[0] >> 4}, not CONNECT");
        }

        while (MqttDecoder.TryReadFrame(ref buffer, maxPacketSize, out var frame))
        {
            _bytesReceived += frame.Length;
            Volatile.Write(ref _lastActivity, Environment.TickCount64);

            if (!IsConnected && frame.Type != MqttPacketType.Connect)
            {
                // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
                throw MqttProtocolException.ProtocolError($"first packet was {frame.Type}, not CONNECT");
            }

            if (!Dispatch(MqttDecoder.Decode(frame, Version)))
            {
                return false;
            }

            if (Volatile.Read(ref _closeRequested) != 0)
            {
                return false;
            }
        }

        return true;
    }

    private bool Dispatch(MqttPacket packet)
    {
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
                if (IsConnected)
                {
                    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
                    throw MqttProtocolException.ProtocolError("second CONNECT on the connection");
                }

                return HandleConnect(connect);
            default:
                throw MqttProtocolException.ProtocolError($"{packet.Type} is not sent by clients");
        }
    }
}
