using System.Text;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern ctl users</c> and <c>tern ctl acl</c> against a real broker whose users file and
/// <c>acl_rules.json</c> live in a directory of the test's own; real MQTT clients prove each change.
/// </summary>
public sealed class CtlUsersAclTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-ctl-users-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A broker with an empty users file in this test's directory; anonymous clients only when asked.</summary>
    private Task<CtlBroker> StartAsync(bool allowAnonymous)
    {
        var usersFile = Path.Combine(_directory, "users.json");
        File.WriteAllText(usersFile, """{ "users": [] }""");
        return CtlBroker.StartAsync(new()
        {
            ["Auth:UsersFile"] = usersFile,
            ["Auth:AllowAnonymous"] = allowAnonymous ? "true" : "false",
        });
    }

    [Fact]
    public async Task Users_added_with_ctl_can_log_in_a_new_password_replaces_the_old_and_a_deleted_user_is_refused()
    {
        await using var broker = await StartAsync(allowAnonymous: false);
        Assert.Equal(4, await ConnectCodeAsync(broker, "dev-1", "sensor-1", "s3cret")); // 3.1.1: bad user name or password

        var add = await broker.CtlAsync("users", "add", "sensor-1", "--mqtt-password", "s3cret");
        Assert.Equal(0, add.ExitCode);
        Assert.Equal("Added the user 'sensor-1'.\n", add.Stderr);
        Assert.Equal("sensor-1", JsonDocument.Parse(add.Stdout).RootElement.GetProperty("user_id").GetString());
        Assert.Equal(0, await ConnectCodeAsync(broker, "dev-1", "sensor-1", "s3cret"));

        // --password stays the dashboard's, here as for every tern ctl command.
        var wrongDashboardPassword = await broker.CtlAsync("users", "add", "sensor-9", "--mqtt-password", "pw-9", "--password", "guess");
        Assert.Equal(1, wrongDashboardPassword.ExitCode);
        Assert.StartsWith($"The broker at {broker.Url} refused the credentials of user 'admin' (BAD_USERNAME_OR_PWD)", OneLine(wrongDashboardPassword.Stderr), StringComparison.Ordinal);

        var again = await broker.CtlAsync("users", "add", "sensor-1", "--mqtt-password", "other");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("The user 'sensor-1' exists already: change its password with 'tern ctl users passwd sensor-1'.", OneLine(again.Stderr));

        // Standard input is not a terminal: the password is its first line, and a second must match it.
        var passwd = await broker.CtlWithInputAsync("n3w-s3cret\nn3w-s3cret\n", "users", "passwd", "sensor-1");
        Assert.Equal(0, passwd.ExitCode);
        Assert.Equal("Changed the password of 'sensor-1'.\n", passwd.Stderr);
        Assert.Equal(4, await ConnectCodeAsync(broker, "dev-1", "sensor-1", "s3cret"));
        Assert.Equal(0, await ConnectCodeAsync(broker, "dev-1", "sensor-1", "n3w-s3cret"));

        var mismatch = await broker.CtlWithInputAsync("one\ntwo\n", "users", "add", "sensor-2");
        Assert.Equal(1, mismatch.ExitCode);
        Assert.Equal("The two passwords on standard input differ.", OneLine(mismatch.Stderr));

        Assert.Equal(0, (await broker.CtlAsync("users", "add", "sensor-2", "--mqtt-password", "pw-2")).ExitCode);
        var list = await broker.CtlAsync("users", "list", "--table");
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"│ sensor-1\s+│[\s\S]*│ sensor-2\s+│", list.Stdout);
        Assert.Contains("2 users", list.Stdout, StringComparison.Ordinal);
        var filtered = await broker.CtlAsync("users", "list", "--like", "-2");
        Assert.Equal(["sensor-2"], JsonDocument.Parse(filtered.Stdout).RootElement.GetProperty("data").EnumerateArray().Select(u => u.GetProperty("user_id").GetString()));

        var delete = await broker.CtlAsync("users", "delete", "sensor-1");
        Assert.Equal(0, delete.ExitCode);
        Assert.Equal("Deleted the user 'sensor-1'.\n", delete.Stderr);
        Assert.Equal(4, await ConnectCodeAsync(broker, "dev-1", "sensor-1", "n3w-s3cret"));

        var gone = await broker.CtlAsync("users", "delete", "sensor-1");
        Assert.Equal(1, gone.ExitCode);
        Assert.Equal("No user 'sensor-1' in the broker's users file.", OneLine(gone.Stderr));
        Assert.Equal("No user 'nobody' in the broker's users file.", OneLine((await broker.CtlAsync("users", "passwd", "nobody", "--mqtt-password", "x")).Stderr));
    }

    [Fact]
    public async Task Admins_passwd_changes_the_dashboard_password_the_old_one_is_refused_and_bad_input_is_one_line()
    {
        // The password is kept next to the users file: in this test's directory, not the other tests' data.
        await using var broker = await StartAsync(allowAnonymous: true);
        Assert.Equal(0, (await broker.CtlAsync("status")).ExitCode); // admin/public, the defaults

        // Standard input is not a terminal: the new password is its first line, and a second must match it.
        var change = await broker.CtlWithInputAsync("Dashb0ard-pw\nDashb0ard-pw\n", "admins", "passwd");
        Assert.Equal(0, change.ExitCode);
        Assert.Equal("Changed the dashboard password of 'admin'. Log in with the new one from now on (--password, TERN_CTL_PASSWORD); API keys stay valid.", OneLine(change.Stderr));

        var old = await broker.CtlAsync("status");
        Assert.Equal(1, old.ExitCode);
        Assert.StartsWith($"The broker at {broker.Url} refused the credentials of user 'admin' (BAD_USERNAME_OR_PWD)", OneLine(old.Stderr), StringComparison.Ordinal);
        Assert.Equal(0, (await broker.CtlAsync("status", "--password", "Dashb0ard-pw")).ExitCode);

        // The API's own words for what it refuses, on one line; nothing changes.
        var wrongOld = await broker.CtlAsync("admins", "passwd", "--password", "Dashb0ard-pw", "--old-password", "guess", "--new-password", "0ther-pw-1");
        Assert.Equal(1, wrongOld.ExitCode);
        Assert.Equal("old_pwd: this is not the current password.", OneLine(wrongOld.Stderr));
        var weak = await broker.CtlAsync("admins", "passwd", "--password", "Dashb0ard-pw", "--new-password", "short");
        Assert.Equal(1, weak.ExitCode);
        Assert.Equal("new_pwd: the new password must be 8 to 64 characters long, not 5.", OneLine(weak.Stderr));
        var nobody = await broker.CtlAsync("admins", "passwd", "ops", "--password", "Dashb0ard-pw", "--new-password", "0ther-pw-1");
        Assert.Equal(1, nobody.ExitCode);
        Assert.Equal("No dashboard user 'ops': the dashboard's user is Dashboard:Username.", OneLine(nobody.Stderr));
        Assert.Equal(0, (await broker.CtlAsync("status", "--password", "Dashb0ard-pw")).ExitCode);
        Assert.True(File.Exists(Path.Combine(_directory, "dashboard_password.json")), "the new password is not kept for the next start");
    }

    [Fact]
    public async Task A_deny_rule_added_with_ctl_refuses_the_client_and_deleting_it_lets_the_client_in_again()
    {
        await using var broker = await StartAsync(allowAnonymous: true);
        await using var device = await broker.Mqtt.ConnectAsync("dev-7", version: MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "plant/valve", 1));

        var add = await broker.CtlAsync("acl", "add", "--clientid", "dev-7", "--topic", "plant/#", "--action", "publish", "--permission", "deny");
        Assert.Equal(0, add.ExitCode);
        Assert.Equal("Added the rule deny publish on 'plant/#' for client id 'dev-7'.\n", add.Stderr);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "plant/valve", 2));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "office/lamp", 3));

        // A second rule for the same client goes last; an identical one changes nothing.
        Assert.Equal(0, (await broker.CtlAsync("acl", "add", "--clientid", "dev-7", "--topic", "office/#", "--action", "all", "--permission", "deny")).ExitCode);
        var same = await broker.CtlAsync("acl", "add", "--clientid", "dev-7", "--topic", "plant/#", "--action", "publish", "--permission", "deny");
        Assert.Equal(0, same.ExitCode);
        Assert.Equal("The rule deny publish on 'plant/#' for client id 'dev-7' is there already; nothing changed.\n", same.Stderr);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "office/lamp", 4));

        var subscribe = await device.SubscribeAsync("office/#", MqttQoS.AtLeastOnce);
        Assert.Equal((byte)ReasonCode.NotAuthorized, subscribe.ReasonCodes[0]);

        // The first rule that applies decides: an allow put first wins over the deny after it.
        Assert.Equal(0, (await broker.CtlAsync("acl", "add", "--clientid", "dev-7", "--topic", "office/lamp", "--action", "publish", "--permission", "allow", "--first")).ExitCode);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "office/lamp", 8));
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "office/desk", 9));
        Assert.Equal(0, (await broker.CtlAsync("acl", "delete", "--clientid", "dev-7", "--topic", "office/lamp", "--permission", "allow")).ExitCode);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "office/lamp", 10));

        Assert.Equal(0, (await broker.CtlAsync("acl", "add", "--username", "alice", "--topic", "a/#", "--action", "subscribe", "--permission", "allow")).ExitCode);
        Assert.Equal(0, (await broker.CtlAsync("acl", "add", "--all", "--topic", "secret/#", "--action", "all", "--permission", "deny")).ExitCode);

        var table = await broker.CtlAsync("acl", "list", "--table");
        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"│ username alice\s+│ allow\s+│ subscribe\s+│ a/#\s+│[\s\S]*│ clientid dev-7\s+│ deny\s+│ publish\s+│ plant/#\s+│[\s\S]*│ clientid dev-7\s+│ deny\s+│ all\s+│ office/#\s+│[\s\S]*│ all\s+│ deny\s+│ all\s+│ secret/#\s+│", table.Stdout);

        var json = JsonDocument.Parse((await broker.CtlAsync("acl", "list")).Stdout).RootElement;
        Assert.Equal("alice", json.GetProperty("users").GetProperty("data")[0].GetProperty("username").GetString());
        Assert.Equal("secret/#", json.GetProperty("all").GetProperty("rules")[0].GetProperty("topic").GetString());
        var one = JsonDocument.Parse((await broker.CtlAsync("acl", "list", "--clientid", "dev-7")).Stdout).RootElement;
        Assert.Equal(["plant/#", "office/#"], one.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("topic").GetString()));

        var deleteOne = await broker.CtlAsync("acl", "delete", "--clientid", "dev-7", "--topic", "plant/#");
        Assert.Equal(0, deleteOne.ExitCode);
        Assert.Equal("Deleted 1 rule on 'plant/#' for client id 'dev-7'.\n", deleteOne.Stderr);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "plant/valve", 5));
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "office/lamp", 6));

        var deleteAll = await broker.CtlAsync("acl", "delete", "--clientid", "dev-7");
        Assert.Equal(0, deleteAll.ExitCode);
        Assert.Equal("Deleted every ACL rule for client id 'dev-7'.\n", deleteAll.Stderr);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "office/lamp", 7));

        var none = await broker.CtlAsync("acl", "delete", "--clientid", "dev-7");
        Assert.Equal(1, none.ExitCode);
        Assert.Equal("No ACL rules for client id 'dev-7'.", OneLine(none.Stderr));
        Assert.Equal("No ACL rules for client id 'dev-7'.", OneLine((await broker.CtlAsync("acl", "list", "--clientid", "dev-7")).Stderr));
        Assert.Equal("No rule on 'x/#' for all clients.", OneLine((await broker.CtlAsync("acl", "delete", "--all", "--topic", "x/#")).Stderr));
        Assert.Equal("Give exactly one of --clientid, --username and --all.", OneLine((await broker.CtlAsync("acl", "add", "--topic", "t", "--action", "all", "--permission", "deny")).Stderr));

        // The API checks the topic filter; its message is printed as is.
        var bad = await broker.CtlAsync("acl", "add", "--all", "--topic", "a/#/b", "--action", "all", "--permission", "deny");
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("rules[1].topic", OneLine(bad.Stderr), StringComparison.Ordinal);
    }

    /// <summary>The CONNACK return code for a CONNECT with this user name and password (MQTT 3.1.1).</summary>
    private static async Task<byte> ConnectCodeAsync(CtlBroker broker, string clientId, string username, string password)
    {
        await using var client = await broker.Mqtt.OpenRawAsync();
        return (await client.ConnectAsync(clientId, username: username, password: Encoding.UTF8.GetBytes(password))).ReasonCode;
    }

    /// <summary>Publishes at QoS 1 (MQTT 5) and returns the PUBACK's reason code.</summary>
    private static async Task<ReasonCode> PublishAsync(RawMqttClient client, string topic, ushort id)
    {
        await client.SendAsync(new PublishPacket { Topic = topic, Payload = Encoding.UTF8.GetBytes("x"), QoS = MqttQoS.AtLeastOnce, PacketId = id });
        var ack = await client.ReceiveAsync<PubAckPacket>();
        Assert.Equal(id, ack.PacketId);
        return ack.ReasonCode;
    }

    private static string OneLine(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}:\n{stderr}");
        return lines[0];
    }
}
