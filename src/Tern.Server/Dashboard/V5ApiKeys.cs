using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

/// <summary>One API key: its secret is kept only as a PBKDF2 hash (<see cref="UsersPasswordHash"/>).</summary>
internal sealed record V5ApiKey(string Name, string ApiKey, string Hash, DateTimeOffset? ExpiredAt, string Desc, bool Enable, DateTimeOffset CreatedAt)
{
    /// <summary>Whether the key has expired at <paramref name="now"/>.</summary>
    public bool IsExpired(DateTimeOffset now) => ExpiredAt is { } at && at <= now;
}

/// <summary>
/// The API keys of <c>/api/v5/api_key</c>: <c>key:secret</c> pairs for scripts, sent as HTTP Basic.
/// Kept in <c>api_keys.json</c> next to the users file, written atomically, so they survive a restart.
/// </summary>
internal sealed class V5ApiKeys
{
    /// <summary>The file's name; it lives in the directory of the users file.</summary>
    public const string FileName = "api_keys.json";

    // Longer headers are refused without decoding: no key:secret is this long.
    private const int MaxHeaderLength = 1024;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    // Secrets already checked against their PBKDF2 hash, as SHA-256: a script's every request must
    // not cost a slow hash. Dropped when the key is deleted; expiry and enable are checked each time.
    private readonly ConcurrentDictionary<string, byte[]> _verified = new(StringComparer.Ordinal);
    private volatile V5ApiKey[] _keys;

    private V5ApiKeys(string path, V5ApiKey[] keys, TimeProvider time)
    {
        FilePath = path;
        _keys = keys;
        _time = time;
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>Every key, in the order of creation.</summary>
    public IReadOnlyList<V5ApiKey> All => _keys;

    /// <summary>Loads the keys of <paramref name="path"/> (none when it does not exist yet).</summary>
    /// <exception cref="TernConfigurationException">The file is unreadable or malformed; the message names it.</exception>
    public static V5ApiKeys Load(string path, TimeProvider time)
    {
        path = Path.GetFullPath(path);
        using var document = ManagedJsonFile.Read(path, "API keys");
        var keys = new List<V5ApiKey>();
        if (document is not null)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("api_keys", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw Malformed(path, "expected { \"api_keys\": [ ... ] }");
            }

            var index = 0;
            foreach (var item in list.EnumerateArray())
            {
                try
                {
                    var expired = item.GetProperty("expired_at");
                    keys.Add(new V5ApiKey(
                        item.GetProperty("name").GetString()!,
                        item.GetProperty("api_key").GetString()!,
                        item.GetProperty("hash").GetString()!,
                        expired.ValueKind == JsonValueKind.Null ? null : DateTimeOffset.Parse(expired.GetString()!, CultureInfo.InvariantCulture),
                        item.GetProperty("desc").GetString() ?? "",
                        item.GetProperty("enable").GetBoolean(),
                        DateTimeOffset.Parse(item.GetProperty("created_at").GetString()!, CultureInfo.InvariantCulture)));
                }
                catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or ArgumentNullException)
                {
                    throw Malformed(path, $"api_keys[{index}] needs name, api_key, hash, expired_at, desc, enable and created_at ({ex.Message})");
                }

                if (!UsersPasswordHash.IsValid(keys[^1].Hash))
                {
                    throw Malformed(path, $"api_keys[{index}].hash is not a $pbkdf2-sha256$ hash");
                }

                index++;
            }
        }

        return new V5ApiKeys(path, [.. keys], time);
    }

    /// <summary>Creates a key; returns it and its secret, which is never shown again. Null when the name is taken.</summary>
    public (V5ApiKey Key, string Secret)? Create(string name, DateTimeOffset? expiredAt, string desc, bool enable)
    {
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var hash = UsersPasswordHash.Hash(secret);
        lock (_gate)
        {
            if (Array.Exists(_keys, k => k.Name == name))
            {
                return null;
            }

            var key = new V5ApiKey(name, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), hash, expiredAt, desc, enable, _time.GetUtcNow());
            Save([.. _keys, key]);
            return (key, secret);
        }
    }

    /// <summary>Changes what is given of a key; null when there is no such key.</summary>
    public V5ApiKey? Update(string name, bool? enable, DateTimeOffset? expiredAt, bool setExpiry, string? desc)
    {
        lock (_gate)
        {
            var index = Array.FindIndex(_keys, k => k.Name == name);
            if (index < 0)
            {
                return null;
            }

            var old = _keys[index];
            var key = old with { Enable = enable ?? old.Enable, ExpiredAt = setExpiry ? expiredAt : old.ExpiredAt, Desc = desc ?? old.Desc };
            var keys = _keys.ToArray();
            keys[index] = key;
            Save(keys);
            return key;
        }
    }

    /// <summary>Deletes a key; false when there is none of that name.</summary>
    public bool Delete(string name)
    {
        lock (_gate)
        {
            var key = Array.Find(_keys, k => k.Name == name);
            if (key is null)
            {
                return false;
            }

            Save([.. _keys.Where(k => k != key)]);
            _verified.TryRemove(key.ApiKey, out _);
            return true;
        }
    }

    /// <summary>Whether an <c>Authorization: Basic</c> header carries the key and secret of an enabled, unexpired key.</summary>
    public bool IsAuthorized(string? authorization)
    {
        const string Scheme = "Basic ";
        if (_keys.Length == 0 || authorization is null || authorization.Length > MaxHeaderLength
            || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var encoded = authorization.AsSpan(Scheme.Length).Trim();
        var buffer = ArrayPool<byte>.Shared.Rent(encoded.Length);
        try
        {
            if (!Convert.TryFromBase64Chars(encoded, buffer, out var length))
            {
                return false;
            }

            var pair = buffer.AsSpan(0, length);
            var colon = pair.IndexOf((byte)':');
            if (colon <= 0)
            {
                return false;
            }

            var apiKey = Encoding.UTF8.GetString(pair[..colon]);
            var secret = pair[(colon + 1)..];
            var key = Array.Find(_keys, k => k.ApiKey == apiKey);
            if (key is null || !key.Enable || key.IsExpired(_time.GetUtcNow()))
            {
                return false;
            }

            var digest = SHA256.HashData(secret);
            if (_verified.TryGetValue(apiKey, out var known))
            {
                return CryptographicOperations.FixedTimeEquals(digest, known);
            }

            if (!UsersPasswordHash.Verify(secret, key.Hash))
            {
                return false;
            }

            _verified[apiKey] = digest;
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static TernConfigurationException Malformed(string path, string problem)
        => new($"The API keys file {path} is malformed: {problem}. Fix it, or move it away to start without API keys.", path);

    private void Save(V5ApiKey[] keys)
    {
        ManagedJsonFile.Write(FilePath, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("api_keys");
            foreach (var key in keys)
            {
                writer.WriteStartObject();
                writer.WriteString("name", key.Name);
                writer.WriteString("api_key", key.ApiKey);
                writer.WriteString("hash", key.Hash);
                if (key.ExpiredAt is { } at)
                {
                    writer.WriteString("expired_at", V5Api.Rfc3339(at));
                }
                else
                {
                    writer.WriteNull("expired_at");
                }

                writer.WriteString("desc", key.Desc);
                writer.WriteBoolean("enable", key.Enable);
                writer.WriteString("created_at", V5Api.Rfc3339(key.CreatedAt));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
        _keys = keys;
    }
}
