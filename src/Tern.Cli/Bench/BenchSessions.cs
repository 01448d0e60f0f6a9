namespace Tern.Cli.Bench;

/// <summary>
/// Ends the persistent sessions of a <c>-c</c> run once its connections are closed: each id connects
/// once more with a clean session and disconnects, which makes the broker discard the stored session.
/// Left behind, they would keep their subscriptions and queue the next run's messages for nobody.
/// </summary>
internal static class BenchSessions
{
    /// <summary>How long ending the sessions may take in all (a broker that stopped answering must not hold the tool).</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>The sessions ended, and the first error of those that could not be.</summary>
    public static async Task<(long Ended, string? Error)> EndAsync(BenchTarget target, IReadOnlyList<string> clientIds)
    {
        if (clientIds.Count == 0)
        {
            return (0, null);
        }

        // Not the run's token: a run ended by Ctrl+C ends its sessions too.
        using var limit = new CancellationTokenSource(Limit);
        var connector = new BenchConnector(target with { CleanSession = true }, rate: 0);
        var sockets = await connector.ConnectAsync(clientIds.Count, i => clientIds[i], limit.Token).ConfigureAwait(false);
        var closing = new List<Task>(sockets.Length);
        foreach (var socket in sockets)
        {
            if (socket is not null)
            {
                closing.Add(BenchSocket.DisconnectAsync(socket));
            }
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
        long notEnded = clientIds.Count - connector.Connected;
        string? error = notEnded > 0 ? $"{notEnded} persistent session(s) not ended: {connector.FirstError ?? "no time left"}" : null;
        return (connector.Connected, error);
    }
}
