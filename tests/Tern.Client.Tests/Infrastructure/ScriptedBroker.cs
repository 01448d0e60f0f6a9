using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>
/// A broker the test drives packet by packet (built on Tern.Protocol), for flows a real broker
/// won't produce on demand: a connection dropped with a message in flight.
/// </summary>
public sealed class ScriptedBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public ScriptedBroker() => _listener.Start();

    public string Uri => $"mqtt://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <param name="sameWrite">Sent in the same write as CONNACK (one TCP segment).</param>
    public async Task<Session> AcceptAsync(bool sessionPresent = false, MqttPacket? sameWrite = null)
    {
        var socket = await _listener.AcceptSocketAsync().WaitAsync(EventLog.Timeout);
        var session = new Session(socket);
        var connect = Assert.IsType<ConnectPacket>(await session.ReceiveAsync());
        session.Version = connect.ProtocolVersion;
        await session.SendAsync(new ConnAckPacket { SessionPresent = sessionPresent }, sameWrite);
        return session;
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        return ValueTask.CompletedTask;
    }

    public sealed class Session(Socket socket) : IDisposable
    {
        private readonly NetworkStream _stream = new(socket, ownsSocket: true);
        private PipeReader? _reader;

        public MqttProtocolVersion Version { get; set; } = MqttProtocolVersion.V311;

        public async Task<MqttPacket> ReceiveAsync()
        {
            _reader ??= PipeReader.Create(_stream);
            while (true)
            {
                var result = await _reader.ReadAsync().AsTask().WaitAsync(EventLog.Timeout);
                var buffer = result.Buffer;
                if (MqttDecoder.TryRead(ref buffer, Version, int.MaxValue, out var packet))
                {
                    _reader.AdvanceTo(buffer.Start); // later packets in this read stay unexamined
                    return packet!;
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);

                if (result.IsCompleted)
                {
                    throw new IOException("Client closed.");
                }
            }
        }

        /// <summary>Next packet that is not a PINGREQ.</summary>
        public async Task<T> ExpectAsync<T>()
            where T : MqttPacket
        {
            while (true)
            {
                var packet = await ReceiveAsync();
                if (packet is not PingReqPacket)
                {
                    return Assert.IsType<T>(packet);
                }
            }
        }

        public async Task SendAsync(MqttPacket packet, MqttPacket? andThen = null)
        {
            var buffer = new ArrayBufferWriter<byte>();
            MqttEncoder.Write(buffer, packet, Version);
            if (andThen is not null)
            {
                MqttEncoder.Write(buffer, andThen, Version);
            }

            await _stream.WriteAsync(buffer.WrittenMemory);
        }

        /// <summary>Drops the connection without a word (RST).</summary>
        public void Dispose()
        {
            socket.LingerState = new LingerOption(true, 0);
            _stream.Dispose();
        }
    }
}
