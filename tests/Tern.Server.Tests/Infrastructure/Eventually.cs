using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>Waits for a condition the broker reaches on its own time (a closed connection leaving the client list).</summary>
public static class Eventually
{
    /// <summary>Checks <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after the timeout.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.Close;
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Within {limit.TotalSeconds:0.#} s: {what}");
            }

            await Task.Delay(20);
        }
    }
}
