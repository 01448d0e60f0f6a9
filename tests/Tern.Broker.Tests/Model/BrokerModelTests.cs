using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// Seeded randomized runs against the real broker, checked against a model of what MQTT promises
/// (docs/reliability.md). By default a few fixed seeds each; environment variables replay one seed
/// (TERN_MODEL_SEED) or run fresh seeds for a while (TERN_MODEL_SECONDS).
/// </summary>
public sealed class BrokerModelTests(ITestOutputHelper output)
{
    private const int DefaultOperations = 100;

    [Fact]
    public Task AmpleBounds_EveryOwedDeliveryArrivesAndNothingIsDropped() =>
        RunAsync(ModelConfig.Ample, nameof(AmpleBounds_EveryOwedDeliveryArrivesAndNothingIsDropped), [101, 102, 103, 104, 105, 106, 107, 108]);

    [Fact]
    public Task TightBounds_EveryMissingDeliveryIsCountedAsDropped() =>
        RunAsync(ModelConfig.Tight, nameof(TightBounds_EveryMissingDeliveryIsCountedAsDropped), [201, 202, 203, 204, 205, 206, 207, 208]);

    private async Task RunAsync(ModelConfig config, string test, int[] defaultSeeds)
    {
        var operations = Environment.GetEnvironmentVariable("TERN_MODEL_OPERATIONS") is { Length: > 0 } ops
            ? int.Parse(ops, CultureInfo.InvariantCulture)
            : DefaultOperations;
        var replay = Environment.GetEnvironmentVariable("TERN_MODEL_SEED");
        var seconds = Environment.GetEnvironmentVariable("TERN_MODEL_SECONDS");

        // The short default run leaves out the areas where the broker is known to fail today; a
        // long run includes them. TERN_MODEL_KNOWN_FAILURES (all, none, or area names) decides either way.
        // Every area the model once found failing is fixed and exercised by default; TERN_MODEL_KNOWN_FAILURES can still leave some out.
        var knownFailures = KnownFailuresSetting.FromEnvironment(KnownFailures.All);

        if (replay is { Length: > 0 })
        {
            await RunSeedAsync(config, test, int.Parse(replay, CultureInfo.InvariantCulture), operations, knownFailures);
        }
        else if (seconds is { Length: > 0 })
        {
            // Long mode: fresh seeds until the time is up; the first failure stops it.
            var until = Stopwatch.StartNew();
            var limit = TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture));
            var runs = 0;
            while (until.Elapsed < limit)
            {
                await RunSeedAsync(config, test, Random.Shared.Next(), operations, knownFailures);
                runs++;
            }

            output.WriteLine($"{runs} seeds passed in {until.Elapsed.TotalSeconds:0} s");
        }
        else
        {
            foreach (var seed in defaultSeeds)
            {
                await RunSeedAsync(config, test, seed, operations, knownFailures);
            }
        }
    }

    private async Task RunSeedAsync(ModelConfig config, string test, int seed, int operations, KnownFailures knownFailures)
    {
        var result = await ModelRun.RunAsync(config, seed, operations, knownFailures);
        output.WriteLine($"seed {seed}: {result.Summary}");
        if (!result.Passed)
        {
            var replay = $"TERN_MODEL_SEED={seed}"
                + (operations != DefaultOperations ? $" TERN_MODEL_OPERATIONS={operations}" : "")
                + $" {KnownFailuresSetting.Variable}={KnownFailuresSetting.ToSetting(knownFailures)}"
                + $" dotnet test tests/Tern.Broker.Tests/Tern.Broker.Tests.csproj -c Release --filter \"FullyQualifiedName~BrokerModelTests.{test}\"";
            Assert.Fail(result.Report(replay));
        }
    }
}
