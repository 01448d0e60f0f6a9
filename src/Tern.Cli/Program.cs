using System.CommandLine;
using Tern.Cli.Commands;

var root = new RootCommand("Tern: an MQTT 3.1/3.1.1/5.0 broker and tools. Run 'tern start' to start a broker on port 1883.")
{
    StartCommand.Create(),
    PubCommand.Create(),
    SubCommand.Create(),
    PasswdCommand.Create(),
    BenchCommand.Create(),
};

var invocation = new InvocationConfiguration
{
    // Ctrl+C/SIGTERM cancel the command's token; give a graceful shutdown this long before forcing exit.
    ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
};

return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
