using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using Tern.Protocol;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Broker.Tests.Reliability;

/// <summary>
/// A failure in one place (a throwing authorizer, a defect in a connection's writer, a will that
/// cannot be published) is logged, counted and confined: it costs that connection at most, never
/// the broker's timers or other clients.
/// </summary>
public sealed class FailureIsolationTests
{
    [Fact]
    public async Task A_throwing_authorizer_on_publish_closes_that_connection_with_0x80_logged_and_counted()
    {
        await using var broker = await TestBroker.StartAsync();
        var log = LogCapture.Attach(broker.Server);
        var authorizer = new ThrowingAuthorizer();
        broker.Server.Broker.Authorizer = authorizer;
        await using var bystander = await broker.ConnectV5Async(TestIds.Client("bystander"));
        await using var victim = await broker.ConnectV5Async(TestIds.Client("victim"));

        await victim.SendPublishV5Async("boom/x", "hi", MqttQoS.AtLeastOnce);

        // Before: mapped to "transport closed", no DISCONNECT, nothing logged or counted.
        await victim.ExpectDisconnectAsync(ReasonCode.UnspecifiedError);
        Assert.True(await victim.WaitForCloseAsync());
        var line = await log.WaitForAsync(l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("Unexpected error in the handler", StringComparison.Ordinal));
        Assert.Contains(victim.Name, line, StringComparison.Ordinal);
        Assert.Equal(1, broker.Server.Broker.Statistics.InternalErrors);
        await BrokerHealth.AssertServesAsync(broker, bystander);
    }

    [Fact]
    public async Task A_writer_that_fails_unexpectedly_closes_its_connection_instead_of_leaving_a_zombie()
    {
        // The broker over in-memory pipes whose output throws a type the transport never throws.
        await using var broker = new MqttBroker(new BrokerOptions());
        var toBroker = new Pipe();
        var fromBroker = new Pipe();
        var transport = new InMemoryConnection.Duplex(toBroker.Reader, new FaultyWriter(fromBroker.Writer));
        var run = broker.HandleConnectionAsync(transport, new MqttConnectionInfo("c1", null, null, "test", null));

        Write(toBroker.Writer, new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V311, ClientId = "zombie", CleanSession = true });
        await toBroker.Writer.FlushAsync();

        // Before: the writer faulted unobserved and the read loop went on; the connection never ended.
        await run.WaitAsync(TestTimeouts.Close);
        Assert.Equal(1, broker.Statistics.InternalErrors);
        Assert.Equal(0, broker.ConnectedClients);
    }

    [Fact]
    public async Task A_will_that_throws_on_the_timer_does_not_stop_keep_alive_or_expiry()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(time: time);
        var authorizer = new ThrowingAuthorizer();
        broker.Server.Broker.Authorizer = authorizer;

        // A delayed will (MQTT 5 will delay 5 s) whose publish throws when the timer sends it.
        var will = new WillMessage { Topic = "boom/will", Payload = "gone"u8.ToArray(), Properties = new MqttProperties { WillDelayInterval = 5 } };
        var willer = await broker.ConnectV5Async(TestIds.Client("willer"), new MqttProperties { SessionExpiryInterval = 60 }, will: will);
        await willer.AbortAsync();
        await WaitUntilAsync(() => broker.Server.Broker.ConnectedClients == 0);

        time.Advance(TimeSpan.FromSeconds(6));
        await WaitUntilAsync(() => Volatile.Read(ref authorizer.Throws) > 0);

        // Before: the exception ended the timer loop, and with it keep-alive enforcement.
        await using var silent = await broker.ConnectAsync(TestIds.Client("silent"), keepAlive: 2);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(await silent.WaitForCloseAsync(), "the keep-alive timeout still closes a silent client");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Receive);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    private static void Write(PipeWriter writer, MqttPacket packet) => MqttEncoder.Write(writer, packet, MqttProtocolVersion.V311);

    /// <summary>Passes the CONNACK through, then fails with an exception no transport throws.</summary>
    private sealed class FaultyWriter(PipeWriter inner) : PipeWriter
    {
        private int _flushes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            => Interlocked.Increment(ref _flushes) == 1
                ? throw new NotSupportedException("a defect in the writer's path")
                : inner.FlushAsync(cancellationToken);
    }
}
