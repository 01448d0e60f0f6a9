using System.Text.RegularExpressions;

namespace Tern.Cli.Tests;

/// <summary>
/// The <c>Dockerfile</c> and <c>compose.yaml</c> at the repository root, read as text and held to what
/// docs/install.md promises (packaging/container-test.sh, run by ./test.sh, builds and runs the image):
/// multi-stage, a runtime image without the SDK, a non-root user, <c>/data</c> as the volume that holds
/// the store and users file, the three ports, a health check, and tern as PID 1.
/// </summary>
public sealed class ContainerFileTests
{
    private static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Dockerfile")) && File.Exists(Path.Combine(dir.FullName, "Tern.slnx")))
                {
                    return dir.FullName;
                }
            }

            throw new FileNotFoundException("Dockerfile not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The Dockerfile's instructions, continuation lines joined and comments dropped.</summary>
    private static List<(string Keyword, string Args)> Instructions()
    {
        var text = Regex.Replace(File.ReadAllText(Path.Combine(Root, "Dockerfile")), @"\\\r?\n", " ");
        return text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' ', 2) is [var keyword, var args] ? (keyword.ToUpperInvariant(), args.Trim()) : (l.ToUpperInvariant(), ""))
            .ToList();
    }

    [Fact]
    public void Dockerfile_builds_with_the_SDK_and_runs_on_the_ASP_NET_runtime_as_a_non_root_user()
    {
        var instructions = Instructions();
        // The base images are build arguments (packaging/container-test.sh passes local stand-ins);
        // their defaults are the official images.
        var defaults = instructions.TakeWhile(i => i.Keyword != "FROM").Where(i => i.Keyword == "ARG")
            .Select(i => i.Args.Split('=', 2)).Where(a => a.Length == 2).ToDictionary(a => a[0], a => a[1]);
        var froms = instructions.Where(i => i.Keyword == "FROM")
            .Select(i => Regex.Replace(i.Args, @"\$\{(\w+)\}", m => defaults.TryGetValue(m.Groups[1].Value, out var value) ? value : m.Value))
            .ToList();
        Assert.Equal(2, froms.Count);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0 AS build", froms[0], StringComparison.Ordinal);
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/(aspnet|runtime-deps):10\.0\b", froms[1]);

        // Everything after the last FROM is the image that runs.
        var runtime = instructions.Skip(instructions.FindLastIndex(i => i.Keyword == "FROM")).ToList();
        Assert.Contains(runtime, i => i.Keyword == "COPY" && i.Args.StartsWith("--from=build ", StringComparison.Ordinal));
        var user = Assert.Single(runtime, i => i.Keyword == "USER").Args;
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.True(runtime.FindIndex(i => i.Keyword == "USER") > runtime.FindLastIndex(i => i.Keyword == "RUN"), "USER must come after the last RUN: the process runs as that user");

        Assert.Equal("[\"/opt/tern/tern\"]", Assert.Single(runtime, i => i.Keyword == "ENTRYPOINT").Args);
        Assert.Equal("[\"start\"]", Assert.Single(runtime, i => i.Keyword == "CMD").Args);
    }

    [Fact]
    public void Dockerfile_keeps_the_data_directory_in_the_volume_exposes_the_ports_and_checks_health()
    {
        var runtime = Instructions();
        runtime = runtime.Skip(runtime.FindLastIndex(i => i.Keyword == "FROM")).ToList();

        // "data" (the store, users file, ACL rules) relative to the working directory is the volume.
        Assert.Equal("/", runtime.Last(i => i.Keyword == "WORKDIR").Args);
        Assert.Equal("[\"/data\"]", Assert.Single(runtime, i => i.Keyword == "VOLUME").Args);
        Assert.Contains(runtime, i => i.Keyword == "RUN" && i.Args.Contains("chown \"$APP_UID\" /data", StringComparison.Ordinal));
        Assert.Equal(new[] { "1883", "8083", "18083" }, Assert.Single(runtime, i => i.Keyword == "EXPOSE").Args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var health = Assert.Single(runtime, i => i.Keyword == "HEALTHCHECK").Args;
        Assert.Contains("CMD ", health, StringComparison.Ordinal);
        Assert.Contains("/dev/tcp/127.0.0.1/${TERN_Listeners__Tcp__Port:-1883}", health, StringComparison.Ordinal);
    }

    [Fact]
    public void Dockerfile_copies_only_what_the_build_needs_and_the_context_leaves_out_build_output()
    {
        var build = Instructions().TakeWhile(i => i.Keyword != "FROM" || i.Args.Contains("AS build", StringComparison.Ordinal)).ToList();
        foreach (var copy in build.Where(i => i.Keyword == "COPY"))
        {
            foreach (var source in copy.Args.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            {
                Assert.True(File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"COPY {source}: no such file in the repository");
            }
        }

        var ignored = File.ReadAllLines(Path.Combine(Root, ".dockerignore"));
        Assert.Contains("**/bin/", ignored);
        Assert.Contains("**/obj/", ignored);
        Assert.Contains("**/data/", ignored);
    }

    [Fact]
    public void Compose_file_runs_the_image_with_a_named_volume_on_data_and_the_three_ports()
    {
        var compose = File.ReadAllLines(Path.Combine(Root, "compose.yaml"))
            .Select(l => Regex.Replace(l, @"\s+#.*$", ""))
            .Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'))
            .ToList();

        Assert.Contains("services:", compose);
        Assert.Contains("  tern:", compose);
        Assert.Contains("    build: .", compose);
        Assert.Contains("      - tern-data:/data", compose);
        Assert.Contains("volumes:", compose);
        Assert.Contains("  tern-data:", compose);
        Assert.Contains("      - \"1883:1883\"", compose);
        Assert.Contains("      - \"8083:8083\"", compose);
        Assert.Contains("      - \"18083:18083\"", compose);
        Assert.Contains("    stop_grace_period: 30s", compose);

        // Indentation by spaces only: a tab is a YAML syntax error.
        Assert.DoesNotContain(compose, l => l.Contains('\t', StringComparison.Ordinal));
    }
}
