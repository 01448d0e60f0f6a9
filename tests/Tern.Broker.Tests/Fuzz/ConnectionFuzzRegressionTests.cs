using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Tern.Protocol;

namespace Tern.Broker.Tests.Fuzz;

/// <summary>
/// Inputs from fuzzing the broker's connection handler (docs/fuzzing.md), run the way the broker
/// target runs them: over an in-memory duplex pipe, input completed after the bytes. The handler
/// must return promptly and the broker must log no unexpected error. A crash the fuzzer finds is
/// added here as hex (the bytes after the CONNECT, without the fuzz input's selector byte).
/// </summary>
public sealed class ConnectionFuzzRegressionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Theory]
    // PUBREL and PUBCOMP for packet ids never used, PUBACK for one never sent.
    [InlineData(MqttProtocolVersion.V311, "62020007 70020008 40020009")]
    // QoS 2 PUBLISH twice with the same id, then its PUBREL twice.
    [InlineData(MqttProtocolVersion.V311, "3405000161 0001 3405000161 0001 62020001 62020001")]
    // 5.0 PUBLISH with topic alias 0 (protocol error: DISCONNECT 0x94).
    [InlineData(MqttProtocolVersion.V500, "3007000161 03230000")]
    // 5.0 PUBLISH with an empty topic and an alias never set.
    [InlineData(MqttProtocolVersion.V500, "3006 0000 0323 0005")]
    // 5.0 SUBSCRIBE to a malformed shared subscription and to '#' with No Local and Retain Handling 3.
    [InlineData(MqttProtocolVersion.V500, "8212 0001 00 00082473686172652F67 02 0001 23 37")]
    // 5.0 AUTH after CONNECT without an authentication method.
    [InlineData(MqttProtocolVersion.V500, "F000")]
    // 3.1 SUBSCRIBE then UNSUBSCRIBE of '+/+/#', then a PUBLISH of QoS 3 (malformed).
    [InlineData(MqttProtocolVersion.V310, "820A 0001 0005 2B2F2B2F23 01 A209 0002 0005 2B2F2B2F23 3603 000161")]
    public async Task HandlerEndsWithoutErrors(MqttProtocolVersion version, string hex)
    {
        var logs = new ErrorLog();
        await using var broker = new MqttBroker(new BrokerOptions { ConnectTimeoutSeconds = 1, SysIntervalSeconds = 0 }, logs);
        broker.Start();
        var connect = MqttEncoder.ToArray(
            new ConnectPacket
            {
                ProtocolVersion = version,
                ClientId = "fuzz",
                Properties = version == MqttProtocolVersion.V500 ? new MqttProperties { TopicAliasMaximum = 4 } : null,
            },
            version);
        var input = new Pipe();
        var output = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await input.Writer.WriteAsync(connect);
        await input.Writer.WriteAsync(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)));
        await input.Writer.CompleteAsync();

        var handler = broker.HandleConnectionAsync(new Duplex(input.Reader, output.Writer), new MqttConnectionInfo("fuzz-1", null, null, "fuzz", null));
        await handler.WaitAsync(Deadline);

        Assert.True(logs.Errors.IsEmpty, string.Join("\n", logs.Errors));
        var sent = await output.Reader.ReadAsync();
        Assert.True(sent.Buffer.Length >= 4, "the broker must at least answer the CONNECT");
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private sealed class ErrorLog : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> Errors { get; } = new();

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
                Errors.Enqueue(formatter(state, exception) + "\n" + exception);
            }
        }
    }
}
