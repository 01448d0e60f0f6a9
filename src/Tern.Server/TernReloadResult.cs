namespace Tern.Server;

/// <summary>What a configuration reload did.</summary>
/// <param name="Applied">Changed settings now in force (keys such as <c>Logging:LogLevel:Default</c>, <c>Acl:Rules</c>, <c>Broker:MaxConnections</c>).</param>
/// <param name="NeedRestart">Changed settings that keep their old effect until the broker restarts.</param>
/// <param name="Error">Why nothing was applied (the configuration did not load or validate), or null.</param>
public sealed record TernReloadResult(IReadOnlyList<string> Applied, IReadOnlyList<string> NeedRestart, string? Error);
