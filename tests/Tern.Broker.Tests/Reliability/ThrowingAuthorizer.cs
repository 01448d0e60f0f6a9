using Tern.Broker;

namespace Tern.Broker.Tests.Reliability;

/// <summary>An authorizer with a defect: it throws for topics under <c>boom/</c> and allows the rest.</summary>
internal sealed class ThrowingAuthorizer : IMqttAuthorizer
{
    public long Generation => 0;

    public int Throws;

    public bool CanPublish(ClientIdentity client, string topic)
    {
        if (topic.StartsWith("boom/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref Throws);
            throw new InvalidOperationException("authorizer defect");
        }

        return true;
    }

    public bool CanSubscribe(ClientIdentity client, string filter) => true;
}
