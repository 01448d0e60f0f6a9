using System.CommandLine;
using Tern.Cli.Commands;

// Socket completions run on the socket engine's threads (one per core) instead of hopping to the
// thread pool: a message then goes from the publisher's read to the subscriber's send on one thread.
// The broker's read path never blocks (slow work such as PBKDF2 goes to the thread pool). Read once,
// when the first socket is created; an explicit DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS wins.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

var root = new RootCommand("Tern: an MQTT 3.1/3.1.1/5.0 broker and tools. Run 'tern start' to start a broker on port 1883.")
{
    StartCommand.Create(),
    PubCommand.Create(),
    SubCommand.Create(),
    PasswdCommand.Create(),
    CtlCommand.Create(),
    DataCommand.Create(),
    BenchCommand.Create(),
};

var invocation = new InvocationConfiguration
{
    // Ctrl+C/SIGTERM cancel the command's token; give a graceful shutdown this long before forcing exit.
    ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
};

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is System.CommandLine.Invocation.ParseErrorAction)
{
    return Tern.Cli.ParseErrors.Report(parsed, args, Console.Error);
}

return await parsed.InvokeAsync(invocation).ConfigureAwait(false);
