using System.IO.Pipelines;
using Tern.Broker;

namespace Tern.Broker.Tests.Reliability;

/// <summary>A broker connection over in-memory pipes, for tests that call the session manager directly.</summary>
internal static class InMemoryConnection
{
    public static MqttConnection Create(MqttBroker broker, string name = "test")
    {
        var input = new Pipe();
        var output = new Pipe();
        return new MqttConnection(broker, new Duplex(input.Reader, output.Writer), new MqttConnectionInfo(name, null, null, "test", null));
    }

    internal sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
