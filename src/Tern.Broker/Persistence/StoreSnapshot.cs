namespace Tern.Broker.Persistence;

/// <summary>The store as an operator sees it (REST API, dashboard, <c>$SYS</c>).</summary>
/// <param name="Location">Its file.</param>
/// <param name="SizeBytes">Bytes it takes on disk (database and log).</param>
/// <param name="Commits">Batches written since the broker started.</param>
/// <param name="RowsWritten">Rows inserted, replaced or deleted since the broker started.</param>
/// <param name="LastCommit">When the last batch was written.</param>
/// <param name="Failure">Why writing failed, while it does; null when it works.</param>
public sealed record StoreSnapshot(string Location, long SizeBytes, long Commits, long RowsWritten, DateTimeOffset? LastCommit, string? Failure);
