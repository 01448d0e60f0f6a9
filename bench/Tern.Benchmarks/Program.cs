using BenchmarkDotNet.Running;
using Tern.Benchmarks;

// dotnet run -c Release --project bench/Tern.Benchmarks -- --filter '*'
// (or a class: --filter '*Decoder*'; --job short for a quick look). See docs/benchmarks.md.
// "--smoke" runs the in-process publish path once per size, without BenchmarkDotNet (a quick check).
if (args is ["--smoke"])
{
    return await PublishPathBenchmarks.SmokeAsync().ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
