namespace Tern.Broker;

/// <summary>Flapping detection: a client id that connects too often in a window is banned for a while.</summary>
public sealed class FlappingOptions
{
    public bool Enabled { get; set; }

    /// <summary>Connections of one client id allowed within <see cref="WindowSeconds"/>; one more bans it.</summary>
    public int MaxConnects { get; set; } = 15;

    public double WindowSeconds { get; set; } = 60;

    public double BanSeconds { get; set; } = 300;
}

/// <summary>Clients refused by configuration (more can be added at run time through <see cref="MqttBroker.Bans"/>).</summary>
public sealed class BanOptions
{
    public List<string> ClientIds { get; set; } = [];

    public List<string> Usernames { get; set; } = [];

    /// <summary>IP addresses or CIDR ranges (<c>10.0.0.0/8</c>, <c>2001:db8::/32</c>).</summary>
    public List<string> Addresses { get; set; } = [];
}
