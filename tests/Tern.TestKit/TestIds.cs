using System.Runtime.CompilerServices;
using System.Threading;

namespace Tern.TestKit;

/// <summary>Unique client ids and topics so that tests never collide, even on a shared broker.</summary>
public static class TestIds
{
    private static int s_counter;

    /// <summary>A client id (at most 23 characters, as MQTT 3.1 requires) unique in this process.</summary>
    public static string Client(string prefix = "c")
    {
        var n = Interlocked.Increment(ref s_counter);
        var id = $"{prefix}{Environment.ProcessId % 10000}-{n}";
        return id.Length <= 23 ? id : id[^23..];
    }

    /// <summary>A topic unique in this process, named after the calling test.</summary>
    public static string Topic([CallerMemberName] string test = "t")
    {
        var n = Interlocked.Increment(ref s_counter);
        return $"tern-test/{test}/{n}";
    }
}
