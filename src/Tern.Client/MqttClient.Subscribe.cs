using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>esp_mqtt_client_subscribe: returns the message id, or -1 when not connected. The outcome comes as <see cref="Subscribed"/>.</summary>
    /// <exception cref="ArgumentException">A filter is not a valid topic filter; the message names it and says why.</exception>
    public int Subscribe(string filter, MqttQoS qos = MqttQoS.AtMostOnce)
        => SubscribeCore([new TopicSubscription(filter, new SubscriptionOptions(qos))], null, null, nameof(filter));

    /// <summary>esp_mqtt_client_subscribe_multiple: several filters in one SUBSCRIBE.</summary>
    public int Subscribe(IEnumerable<(string Filter, MqttQoS QoS)> filters)
        => SubscribeCore(ToSubscriptions(filters), null, null, nameof(filters));

    /// <summary>MQTT 5 form: per-filter options (no local, retain as published, retain handling) and properties (subscription identifier, user properties).</summary>
    public int Subscribe(IReadOnlyList<TopicSubscription> subscriptions, MqttProperties? properties = null)
        => SubscribeCore(subscriptions, properties, null, nameof(subscriptions));

    /// <summary>Subscribes and returns the granted QoS (or failure code) per filter.</summary>
    /// <exception cref="MqttClientException">Not connected, or the connection was lost before SUBACK.</exception>
    public Task<SubscribeResult> SubscribeAsync(string filter, MqttQoS qos = MqttQoS.AtMostOnce, CancellationToken cancellationToken = default)
        => SubscribeAsync([new TopicSubscription(filter, new SubscriptionOptions(qos))], null, cancellationToken, nameof(filter));

    public Task<SubscribeResult> SubscribeAsync(IEnumerable<(string Filter, MqttQoS QoS)> filters, CancellationToken cancellationToken = default)
        => SubscribeAsync(ToSubscriptions(filters), null, cancellationToken, nameof(filters));

    public Task<SubscribeResult> SubscribeAsync(
        IReadOnlyList<TopicSubscription> subscriptions, MqttProperties? properties = null, CancellationToken cancellationToken = default)
        => SubscribeAsync(subscriptions, properties, cancellationToken, nameof(subscriptions));

    private Task<SubscribeResult> SubscribeAsync(
        IReadOnlyList<TopicSubscription> subscriptions, MqttProperties? properties, CancellationToken cancellationToken, string paramName)
    {
        var completion = new TaskCompletionSource<SubscribeResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        return SubscribeCore(subscriptions, properties, completion, paramName) < 0
            ? Task.FromException<SubscribeResult>(new MqttClientException("Not connected."))
            : completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>esp_mqtt_client_unsubscribe: returns the message id, or -1 when not connected.</summary>
    /// <exception cref="ArgumentException">The filter is not a valid topic filter; the message says why.</exception>
    public int Unsubscribe(string filter) => UnsubscribeCore([filter], null, nameof(filter));

    public int Unsubscribe(IEnumerable<string> filters) => UnsubscribeCore([.. filters], null, nameof(filters));

    /// <exception cref="MqttClientException">Not connected, or the connection was lost before UNSUBACK.</exception>
    public Task<UnsubscribeResult> UnsubscribeAsync(string filter, CancellationToken cancellationToken = default)
        => UnsubscribeAsync([filter], cancellationToken, nameof(filter));

    public Task<UnsubscribeResult> UnsubscribeAsync(IEnumerable<string> filters, CancellationToken cancellationToken = default)
        => UnsubscribeAsync(filters, cancellationToken, nameof(filters));

    private Task<UnsubscribeResult> UnsubscribeAsync(IEnumerable<string> filters, CancellationToken cancellationToken, string paramName)
    {
        var completion = new TaskCompletionSource<UnsubscribeResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        return UnsubscribeCore([.. filters], completion, paramName) < 0
            ? Task.FromException<UnsubscribeResult>(new MqttClientException("Not connected."))
            : completion.Task.WaitAsync(cancellationToken);
    }

    private static TopicSubscription[] ToSubscriptions(IEnumerable<(string Filter, MqttQoS QoS)> filters)
        => [.. filters.Select(f => new TopicSubscription(f.Filter, new SubscriptionOptions(f.QoS)))];

    private int SubscribeCore(
        IReadOnlyList<TopicSubscription> subscriptions, MqttProperties? properties, TaskCompletionSource<SubscribeResult>? completion, string paramName)
    {
        ArgumentNullException.ThrowIfNull(subscriptions, paramName);
        if (subscriptions.Count == 0)
        {
            throw new ArgumentException("At least one topic filter is needed.", paramName);
        }

        foreach (var s in subscriptions)
        {
            if (TopicErrors.ForFilter(s.Filter) is { } invalid)
            {
                throw new ArgumentException(invalid, paramName);
            }
        }

        bool v5 = Options.ProtocolVersion == MqttProtocolVersion.V500;
        lock (_gate)
        {
            if (_connection is not { } connection)
            {
                return -1;
            }

            foreach (var s in subscriptions)
            {
                // Remembered for a resubscribe when the server loses the session.
                _subscriptions[s.Filter] = (s, v5 ? properties : null);
            }

            return SendSubscribe(connection, subscriptions, v5 ? properties : null, completion, silent: false);
        }
    }

    /// <summary>Queues a SUBSCRIBE. Caller holds the lock.</summary>
    private int SendSubscribe(
        Connection connection, IReadOnlyList<TopicSubscription> subscriptions, MqttProperties? properties,
        TaskCompletionSource<SubscribeResult>? completion, bool silent)
    {
        ushort id = _ids.Allocate();
        if (id == 0)
        {
            return -1;
        }

        _pending[id] = new PendingRequest { PacketId = id, Subscriptions = subscriptions, SubscribeCompletion = completion, Silent = silent };
        connection.Enqueue(new SendItem(new SubscribePacket { PacketId = id, Subscriptions = subscriptions, Properties = properties }));
        return id;
    }

    private int UnsubscribeCore(IReadOnlyList<string> filters, TaskCompletionSource<UnsubscribeResult>? completion, string paramName)
    {
        if (filters.Count == 0)
        {
            throw new ArgumentException("At least one topic filter is needed.", paramName);
        }

        foreach (var filter in filters)
        {
            if (TopicErrors.ForFilter(filter) is { } invalid)
            {
                throw new ArgumentException(invalid, paramName);
            }
        }

        lock (_gate)
        {
            if (_connection is not { } connection)
            {
                return -1;
            }

            ushort id = _ids.Allocate();
            if (id == 0)
            {
                return -1;
            }

            foreach (var filter in filters)
            {
                _subscriptions.Remove(filter);
            }

            _pending[id] = new PendingRequest { PacketId = id, Filters = filters, UnsubscribeCompletion = completion };
            connection.Enqueue(new SendItem(new UnsubscribePacket { PacketId = id, Filters = filters }));
            return id;
        }
    }

    private void OnSubAck(SubAckPacket ack)
    {
        PendingRequest? request;
        lock (_gate)
        {
            if (!_pending.Remove(ack.PacketId, out request) || request.Subscriptions is null)
            {
                return;
            }

            _ids.Release(ack.PacketId);
            for (int i = 0; i < request.Subscriptions.Count && i < ack.ReasonCodes.Count; i++)
            {
                if (ack.ReasonCodes[i] >= 0x80)
                {
                    _subscriptions.Remove(request.Subscriptions[i].Filter);
                }
            }
        }

        if (!request.Silent)
        {
            byte failure = ack.ReasonCodes.FirstOrDefault(c => c >= 0x80);
            if (failure != 0)
            {
                // esp-mqtt reports a refused filter as MQTT_ERROR_TYPE_SUBSCRIBE_FAILED.
                _events.Post(new MqttErrorEventArgs(this, MqttErrorType.SubscribeFailed, $"The server refused a subscription (0x{failure:X2}).")
                {
                    ReasonCode = (ReasonCode)failure,
                    MessageId = ack.PacketId,
                });
            }

            _events.Post(new SubscribedEventArgs(this, ack.PacketId, ack.ReasonCodes, ack.Properties));
        }

        if (request.SubscribeCompletion is { } completion)
        {
            var items = new SubscribeResultItem[Math.Min(request.Subscriptions.Count, ack.ReasonCodes.Count)];
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = new SubscribeResultItem(request.Subscriptions[i].Filter, (SubscribeReasonCode)ack.ReasonCodes[i]);
            }

            completion.TrySetResult(new SubscribeResult(ack.PacketId, ack.ReasonCodes, ack.Properties) { Items = items });
        }
    }

    private void OnUnsubAck(UnsubAckPacket ack)
    {
        PendingRequest? request;
        lock (_gate)
        {
            if (!_pending.Remove(ack.PacketId, out request) || request.Filters is null)
            {
                return;
            }

            _ids.Release(ack.PacketId);
        }

        _events.Post(new UnsubscribedEventArgs(this, ack.PacketId, ack.ReasonCodes));
        if (request.UnsubscribeCompletion is { } completion)
        {
            var items = new UnsubscribeResultItem[Math.Min(request.Filters.Count, ack.ReasonCodes.Count)];
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = new UnsubscribeResultItem(request.Filters[i], (UnsubscribeReasonCode)ack.ReasonCodes[i]);
            }

            completion.TrySetResult(new UnsubscribeResult(ack.PacketId, ack.ReasonCodes) { Items = items });
        }
    }
}
