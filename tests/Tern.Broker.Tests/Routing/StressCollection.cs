namespace Tern.Broker.Tests.Routing;

/// <summary>
/// Tests that keep several threads busy for seconds run alone, so they do not starve the timing of
/// other tests (keep alive, timeouts) on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "CPU-heavy stress tests";
}
