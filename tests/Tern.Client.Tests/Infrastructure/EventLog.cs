namespace Tern.Client.Tests;

/// <summary>Records every event of a client and lets a test await one (with a timeout) instead of sleeping.</summary>
public sealed class EventLog
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly List<MqttClientEventArgs> _events = [];
    private readonly List<(Func<MqttClientEventArgs, bool> Match, TaskCompletionSource<MqttClientEventArgs> Done)> _waiters = [];

    public EventLog(MqttClient client)
    {
        client.BeforeConnect += (_, e) => Add(e);
        client.Connected += (_, e) => Add(e);
        client.Disconnected += (_, e) => Add(e);
        client.Subscribed += (_, e) => Add(e);
        client.Unsubscribed += (_, e) => Add(e);
        client.Published += (_, e) => Add(e);
        client.Data += (_, e) => Add(e);
        client.Error += (_, e) => Add(e);
        client.Deleted += (_, e) => Add(e);
    }

    public IReadOnlyList<T> All<T>()
        where T : MqttClientEventArgs
    {
        lock (_events)
        {
            return [.. _events.OfType<T>()];
        }
    }

    /// <summary>Completes with the first event of type T matching (already recorded or future).</summary>
    public Task<T> WaitAsync<T>(Func<T, bool>? match = null)
        where T : MqttClientEventArgs
    {
        Func<MqttClientEventArgs, bool> m = e => e is T t && (match?.Invoke(t) ?? true);
        var done = new TaskCompletionSource<MqttClientEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_events)
        {
            var existing = _events.FirstOrDefault(m);
            if (existing is not null)
            {
                return Task.FromResult((T)existing);
            }

            _waiters.Add((m, done));
        }

        return Cast<T>(done.Task.WaitAsync(Timeout));
    }

    /// <summary>What happened so far, for failure messages.</summary>
    public string Describe()
    {
        lock (_events)
        {
            return string.Join("; ", _events.Select(e => e switch
            {
                MqttErrorEventArgs err => $"Error({err.ErrorType}: {err.Message})",
                DisconnectedEventArgs d => $"Disconnected({d.Reason})",
                DataEventArgs x => $"Data({x.Message.Topic[^2..]} {x.Message.PayloadText} q{(int)x.QoS} id{x.MessageId} dup{x.Dup})",
                _ => e.GetType().Name.Replace("EventArgs", "", StringComparison.Ordinal),
            }));
        }
    }

    /// <summary>Waits until <paramref name="count"/> events of type T matching exist.</summary>
    public async Task<IReadOnlyList<T>> WaitCountAsync<T>(int count, Func<T, bool>? match = null)
        where T : MqttClientEventArgs
    {
        int seen = 0;
        await WaitAsync<T>(e => (match?.Invoke(e) ?? true) && ++seen >= count).ConfigureAwait(false);
        return [.. All<T>().Where(e => match?.Invoke(e) ?? true)];
    }

    private async Task<T> Cast<T>(Task<MqttClientEventArgs> task)
    {
        try
        {
            return (T)(object)await task.ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No {typeof(T).Name} within {Timeout.TotalSeconds} s. Events: {Describe()}");
        }
    }

    private void Add(MqttClientEventArgs e)
    {
        List<TaskCompletionSource<MqttClientEventArgs>>? hit = null;
        lock (_events)
        {
            _events.Add(e);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(e))
                {
                    (hit ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        hit?.ForEach(d => d.TrySetResult(e));
    }
}
