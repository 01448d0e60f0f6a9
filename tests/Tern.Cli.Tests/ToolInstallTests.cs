using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>dotnet tool install -g tern</c>, the README's install command: src/Tern.Cli packs as a .NET tool
/// package, installs from a local folder, and the installed <c>tern</c> runs a broker.
/// </summary>
public sealed class ToolInstallTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(30);

    // Packing runs MSBuild; on a busy two-core machine that takes a while even without a build.
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Packed_tool_installs_from_a_local_folder_and_runs_a_broker()
    {
        var work = Directory.CreateTempSubdirectory("tern-tool-test-").FullName;
        try
        {
            var packages = Path.Combine(work, "packages");
            var tools = Path.Combine(work, "tools");
            var version = TernVersion();

            // The tests' own build of src/Tern.Cli is packed as it is (no build, no restore).
            var project = Path.Combine(Repository.Root(), "src", "Tern.Cli", "Tern.Cli.csproj");
            await DotnetAsync(work, PackTimeout, null, "pack", project, "-c", Configuration(), "--no-build", "-o", packages);
            Assert.True(File.Exists(Path.Combine(packages, $"tern.{version}.nupkg")), $"tern.{version}.nupkg not in {packages}");

            // A NuGet.config with only that folder: nothing is looked up on the network, and a fresh
            // package cache keeps an older tern of the same version from being installed instead.
            var config = Path.Combine(work, "NuGet.config");
            await File.WriteAllTextAsync(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            await DotnetAsync(work, Prompt, Path.Combine(work, "nuget-cache"), "tool", "install", "--tool-path", tools, "--configfile", config, "tern", "--version", version);

            var tern = Path.Combine(tools, "tern");
            var environment = new Dictionary<string, string> { ["DOTNET_ROOT"] = DotnetRoot() };
            var (code, printed) = await TernProcess.RunAsync(["--version"], environment, executable: tern);
            Assert.Equal(0, code);
            Assert.Equal(version, printed.Stdout.Trim());

            await using var broker = TernProcess.Start(["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"], environment, executable: tern);
            var line = await broker.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
            var port = int.Parse(Regex.Match(line, @"mqtt://127\.0\.0\.1:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await Net.ConnectAndReadConnAckAsync(port, Prompt));

            await broker.SendSignalAsync("TERM");
            Assert.Equal(0, await broker.WaitForExitAsync(Prompt));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Library_package_carries_its_readme_license_xml_docs_and_dependencies()
    {
        var work = Directory.CreateTempSubdirectory("tern-pack-test-").FullName;
        try
        {
            var project = Path.Combine(Repository.Root(), "src", "Tern.Server", "Tern.Server.csproj");
            await DotnetAsync(work, PackTimeout, null, "pack", project, "-c", Configuration(), "--no-build", "-o", work);

            using var package = ZipFile.OpenRead(Path.Combine(work, $"Tern.Server.{TernVersion()}.nupkg"));
            Assert.NotNull(package.GetEntry("README.md"));
            Assert.NotNull(package.GetEntry("lib/net10.0/Tern.Server.dll"));
            Assert.NotNull(package.GetEntry("lib/net10.0/Tern.Server.xml"));
            using var reader = new StreamReader(package.GetEntry("Tern.Server.nuspec")!.Open());
            var nuspec = await reader.ReadToEndAsync();
            Assert.Contains("""<license type="expression">MIT</license>""", nuspec, StringComparison.Ordinal);
            Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
            Assert.Contains($"""<dependency id="Tern.Broker" version="{TernVersion()}" """, nuspec, StringComparison.Ordinal);
            // SourceLink: the commit the package was built from.
            Assert.Matches("""<repository type="git" [^>]*commit="[0-9a-f]{40}" """, nuspec);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>tern.dll's version, as <c>tern --version</c> prints it and the package is numbered.</summary>
    private static string TernVersion() =>
        FileVersionInfo.GetVersionInfo(Path.Combine(AppContext.BaseDirectory, "tern.dll")).ProductVersion
        ?? throw new InvalidOperationException("tern.dll has no product version");

    /// <summary>The configuration the tests were built in (bin/Release/net10.0): the one to pack.</summary>
    private static string Configuration() =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    /// <summary>The .NET installation running the tests: the tool's launcher looks for the runtime there.</summary>
    private static string DotnetRoot() =>
        Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    private static async Task DotnetAsync(string workingDirectory, TimeSpan timeout, string? packageCache, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test host's MSBuild settings would point the inner dotnet at the outer one's MSBuild.
        foreach (var key in info.Environment.Keys.ToArray())
        {
            if (key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(key);
            }
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (packageCache is not null)
        {
            info.Environment["NUGET_PACKAGES"] = packageCache;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish within {timeout}.\n{await stdout}\n{await stderr}");
        }

        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited {process.ExitCode}.\n{await stdout}\n{await stderr}");
    }
}
