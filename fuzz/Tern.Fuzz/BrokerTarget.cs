using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Fuzz;

/// <summary>
/// Target 2: <see cref="MqttBroker.HandleConnectionAsync"/> over an in-memory duplex pipe fed the
/// input (after a valid CONNECT when selector bit 2 is set), input completed, output drained. A crash
/// is an exception out of the handler, an error the broker logs (it catches and logs unexpected
/// exceptions instead of throwing), a handler still running after <see cref="HangTimeout"/>, or
/// (after a valid CONNECT) output that does not decode as MQTT of that version.
/// One broker serves the whole process, as a real one serves every connection.
/// </summary>
public static class BrokerTarget
{
    /// <summary>How long a connection may run after its input completed (2 s; the xunit smoke run, which shares
    /// two cores with the other test projects, allows more).</summary>
    public static TimeSpan HangTimeout { get; set; } = TimeSpan.FromSeconds(2);

    private static readonly ErrorCapturingLoggerFactory Logs = new();
    private static readonly Lazy<MqttBroker> SharedBroker = new(() =>
    {
        var broker = new MqttBroker(new BrokerOptions { ConnectTimeoutSeconds = 1, SysIntervalSeconds = 0 }, Logs);
        broker.Start();
        return broker;
    });

    private static long _connections;

    public static MqttBroker Broker => SharedBroker.Value;

    /// <summary>The CONNECT sent before the input when selector bit 2 is set.</summary>
    public static byte[] ConnectPrefix(MqttProtocolVersion version) => MqttEncoder.ToArray(
        new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "fuzz",
            CleanSession = true,
            KeepAlive = 0,
            Properties = version == MqttProtocolVersion.V500
                ? new MqttProperties { TopicAliasMaximum = 4, RequestProblemInformation = 1 }
                : null,
        },
        version);

    public static void Run(ReadOnlySpan<byte> input) => RunAsync(input.ToArray()).GetAwaiter().GetResult();

    /// <summary>Runs one connection; returns what the broker sent.</summary>
    public static async Task<byte[]> RunAsync(byte[] input)
    {
        if (input.Length == 0)
        {
            return [];
        }

        var broker = Broker;
        Logs.Errors.Clear();
        var selector = input[0];
        var version = FuzzInput.Version(selector);
        var prefixed = (selector & FuzzInput.ConnectPrefixBit) != 0;

        var toBroker = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var fromBroker = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        if (prefixed)
        {
            toBroker.Writer.Write(ConnectPrefix(version));
        }

        toBroker.Writer.Write(input.AsSpan(1));
        await toBroker.Writer.FlushAsync().ConfigureAwait(false);
        await toBroker.Writer.CompleteAsync().ConfigureAwait(false);

        var id = Interlocked.Increment(ref _connections);
        var transport = new DuplexPipe(toBroker.Reader, fromBroker.Writer);
        var info = new MqttConnectionInfo($"fuzz-{id}", null, null, "fuzz", null);
        var drain = DrainAsync(fromBroker.Reader);
        var handler = Task.Run(() => broker.HandleConnectionAsync(transport, info));
        try
        {
            await handler.WaitAsync(HangTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new FuzzCrashException($"HandleConnectionAsync still running after {HangTimeout.TotalSeconds} s with its input completed (hang)");
        }
        catch (Exception ex)
        {
            throw new FuzzCrashException($"HandleConnectionAsync threw {ex.GetType().Name}: {ex.Message}", ex);
        }

        await fromBroker.Writer.CompleteAsync().ConfigureAwait(false);
        var output = await drain.WaitAsync(HangTimeout).ConfigureAwait(false);

        if (Logs.Errors.TryDequeue(out var error))
        {
            throw new FuzzCrashException($"the broker logged an error: {error.Message}", error.Exception ?? new InvalidOperationException(error.Message));
        }

        if (prefixed)
        {
            CheckOutput(output, version);
        }

        return output;
    }

    /// <summary>Everything the broker sent after our valid CONNECT must decode as server packets of that version.</summary>
    private static void CheckOutput(byte[] output, MqttProtocolVersion version)
    {
        var buffer = new ReadOnlySequence<byte>(output);
        try
        {
            while (MqttDecoder.TryRead(ref buffer, version, int.MaxValue, out var packet))
            {
                if (packet is ConnectPacket or SubscribePacket or UnsubscribePacket or PingReqPacket)
                {
                    throw new FuzzCrashException($"the broker sent a client packet {packet.Type}: {DecoderTarget.Hex(output)}");
                }
            }
        }
        catch (MqttProtocolException ex)
        {
            throw new FuzzCrashException($"the broker sent bytes that do not decode as {version}: {ex.Message}\n  output: {DecoderTarget.Hex(output)}", ex);
        }

        if (!buffer.IsEmpty)
        {
            throw new FuzzCrashException($"the broker's output ends in the middle of a packet: {DecoderTarget.Hex(output)}");
        }
    }

    private static async Task<byte[]> DrainAsync(PipeReader reader)
    {
        var output = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            foreach (var segment in result.Buffer)
            {
                output.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
                return output.WrittenSpan.ToArray();
            }
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    internal sealed record LoggedError(string Message, Exception? Exception);

    /// <summary>Records what the broker logs at Error or above; everything else is dropped.</summary>
    private sealed class ErrorCapturingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<LoggedError> Errors { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors.Enqueue(new LoggedError(formatter(state, exception), exception));
            }
        }
    }
}
