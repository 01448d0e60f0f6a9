using Microsoft.Extensions.Time.Testing;
using Tern.Broker.Tests.Reliability;
using Tern.Protocol;

namespace Tern.Broker.Tests.Sessions;

/// <summary>The session manager's invariants, driven step by step in the orders real connections can take.</summary>
public sealed class SessionManagerTests
{
    private readonly FakeTimeProvider _time = new();

    private MqttBroker NewBroker(BrokerOptions? options = null) => new(options ?? new BrokerOptions(), timeProvider: _time);

    [Fact]
    public void Late_attach_of_a_taken_over_connection_fails_and_its_close_leaves_the_winner_online()
    {
        // Two CONNECTs with one client id at once: B takes the session from A between A's Connect and
        // A's Attach. Before, A's late Attach made A the receiving connection and A's close then left
        // B connected and receiving nothing.
        var broker = NewBroker();
        var a = InMemoryConnection.Create(broker, "a");
        var b = InMemoryConnection.Create(broker, "b");

        var sessionA = broker.Sessions.Connect(a, "device", cleanStart: false, expiryInterval: 60, null, out _, out var previousOfA)!;
        var sessionB = broker.Sessions.Connect(b, "device", cleanStart: false, expiryInterval: 60, null, out var present, out var previousOfB)!;

        Assert.Null(previousOfA);
        Assert.Same(a, previousOfB);
        Assert.Same(sessionA, sessionB);
        Assert.True(present);
        Assert.True(sessionB.Attach(b, new ConnAckPacket(), 10));
        Assert.False(sessionA.Attach(a, new ConnAckPacket(), 10));

        broker.Sessions.Disconnected(sessionA, a, will: null);

        Assert.True(sessionB.IsOnline);
        Assert.Same(b, sessionB.Owner);
        Assert.Equal(1, broker.Sessions.Count);
    }

    [Fact]
    public void Attach_after_a_clean_start_takeover_fails_for_the_old_session()
    {
        var broker = NewBroker();
        var a = InMemoryConnection.Create(broker, "a");
        var b = InMemoryConnection.Create(broker, "b");

        var old = broker.Sessions.Connect(a, "device", cleanStart: false, expiryInterval: 60, null, out _, out _)!;
        var fresh = broker.Sessions.Connect(b, "device", cleanStart: true, expiryInterval: 60, null, out var present, out _)!;

        Assert.False(present);
        Assert.NotSame(old, fresh);
        Assert.True(old.Ended);
        Assert.False(old.Attach(a, new ConnAckPacket(), 10));
        Assert.True(fresh.Attach(b, new ConnAckPacket(), 10));
    }

    [Fact]
    public void An_expired_session_is_not_resumed_even_before_the_timer_sweeps_it()
    {
        // No timer runs here (the broker is not started): expiry holds on the broker's one clock.
        var broker = NewBroker();
        var a = InMemoryConnection.Create(broker, "a");
        var session = broker.Sessions.Connect(a, "device", cleanStart: false, expiryInterval: 10, null, out _, out _)!;
        Assert.True(session.Attach(a, new ConnAckPacket(), 10));
        broker.Sessions.Disconnected(session, a, will: null);

        _time.Advance(TimeSpan.FromSeconds(9.9));
        var b = InMemoryConnection.Create(broker, "b");
        var resumed = broker.Sessions.Connect(b, "device", cleanStart: false, expiryInterval: 10, null, out var present, out _)!;
        Assert.True(present);
        Assert.Same(session, resumed);
        Assert.True(resumed.Attach(b, new ConnAckPacket(), 10));
        broker.Sessions.Disconnected(resumed, b, will: null);

        _time.Advance(TimeSpan.FromSeconds(10));
        var c = InMemoryConnection.Create(broker, "c");
        var fresh = broker.Sessions.Connect(c, "device", cleanStart: false, expiryInterval: 10, null, out present, out _)!;
        Assert.False(present);
        Assert.NotSame(session, fresh);
        Assert.True(session.Ended);
    }

    [Fact]
    public void Timer_ends_expired_offline_sessions_and_keeps_the_others()
    {
        var broker = NewBroker();
        var shortLived = InMemoryConnection.Create(broker, "a");
        var longLived = InMemoryConnection.Create(broker, "b");
        var s1 = broker.Sessions.Connect(shortLived, "short", cleanStart: false, expiryInterval: 5, null, out _, out _)!;
        var s2 = broker.Sessions.Connect(longLived, "long", cleanStart: false, expiryInterval: 60, null, out _, out _)!;
        broker.Sessions.Disconnected(s1, shortLived, will: null);
        broker.Sessions.Disconnected(s2, longLived, will: null);

        _time.Advance(TimeSpan.FromSeconds(6));
        broker.Sessions.OnTimer(broker.NowMs);

        Assert.True(s1.Ended);
        Assert.False(s2.Ended);
        Assert.False(broker.Sessions.TryGet("short", out _));
        Assert.True(broker.Sessions.TryGet("long", out _));
    }

    [Fact]
    public void A_session_that_would_exceed_MaxSessions_is_not_created()
    {
        var broker = NewBroker(new BrokerOptions { MaxSessions = 1 });
        var a = InMemoryConnection.Create(broker, "a");
        var b = InMemoryConnection.Create(broker, "b");

        Assert.NotNull(broker.Sessions.Connect(a, "first", cleanStart: true, expiryInterval: 0, null, out _, out _));
        Assert.Null(broker.Sessions.Connect(b, "second", cleanStart: true, expiryInterval: 0, null, out _, out _));

        // Taking over an existing session is not a new one.
        var c = InMemoryConnection.Create(broker, "c");
        Assert.NotNull(broker.Sessions.Connect(c, "first", cleanStart: false, expiryInterval: 0, null, out _, out _));
    }

    [Fact]
    public void Disconnect_of_a_clean_session_ends_it_and_of_a_persistent_one_keeps_it_offline()
    {
        var broker = NewBroker();
        var clean = InMemoryConnection.Create(broker, "a");
        var persistent = InMemoryConnection.Create(broker, "b");
        var s1 = broker.Sessions.Connect(clean, "clean", cleanStart: true, expiryInterval: 0, null, out _, out _)!;
        var s2 = broker.Sessions.Connect(persistent, "persistent", cleanStart: false, expiryInterval: 60, null, out _, out _)!;
        Assert.True(s1.Attach(clean, new ConnAckPacket(), 10));
        Assert.True(s2.Attach(persistent, new ConnAckPacket(), 10));

        broker.Sessions.Disconnected(s1, clean, will: null);
        broker.Sessions.Disconnected(s2, persistent, will: null);

        Assert.True(s1.Ended);
        Assert.False(s2.Ended);
        Assert.False(s2.IsOnline);
        Assert.Null(s2.Owner);
        Assert.Equal(1, broker.Sessions.Count);
    }
}
