using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tern.Protocol;
using Tern.Server.Security;
using Tern.TestKit;

namespace Tern.Broker.Tests.Auth;

/// <summary>Users files, tokens and CONNECT helpers shared by the authentication tests.</summary>
internal static class AuthTestSupport
{
    /// <summary>The lowest accepted cost: these tests check behaviour, not hashing speed.</summary>
    public const int FastIterations = UsersPasswordHash.MinIterations;

    /// <summary>A fresh temp directory's users.json holding <paramref name="users"/>.</summary>
    public static string WriteUsersFile(params (string Username, string Password)[] users)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tern-auth-test-").FullName, "users.json");
        SaveUsers(path, users);
        return path;
    }

    public static void SaveUsers(string path, params (string Username, string Password)[] users) =>
        UsersFile.Save(path, users.Select(u => new UsersFileEntry(u.Username, UsersPasswordHash.Hash(u.Password, FastIterations))));

    /// <summary>CONNECT with the given credentials on a new connection; returns the CONNACK return/reason code.</summary>
    public static async Task<byte> ConnectCodeAsync(TestBroker broker, string? username, string? password, MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        await using var client = await broker.OpenRawAsync();
        var connAck = await client.ConnectAsync(
            TestIds.Client("auth"),
            version: version,
            username: username,
            password: password is null ? null : Encoding.UTF8.GetBytes(password));
        if (connAck.ReasonCode != 0)
        {
            Assert.True(await client.WaitForCloseAsync(), "a refused connection must be closed\n" + client.Transcript);
        }

        return connAck.ReasonCode;
    }

    /// <summary>A compact JWS; <paramref name="sign"/> gets the signing input and returns the signature.</summary>
    public static string Token(object header, object claims, Func<byte[], byte[]> sign)
    {
        var input = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        return input + "." + Base64Url(sign(Encoding.ASCII.GetBytes(input)));
    }

    public static string Hs256(string secret, object claims, string alg = "HS256") =>
        Token(new { alg, typ = "JWT" }, claims, input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), input));

    public static string Rs256(RSA key, object claims) =>
        Token(new { alg = "RS256", typ = "JWT" }, claims, input => key.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static long InSeconds(int seconds) => DateTimeOffset.UtcNow.AddSeconds(seconds).ToUnixTimeSeconds();

    public static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
