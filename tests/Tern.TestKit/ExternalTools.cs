namespace Tern.TestKit;

/// <summary>Third-party programs the interop tests drive. A missing one fails the test with the package to install.</summary>
public static class ExternalTools
{
    public const string MosquittoSub = "/usr/bin/mosquitto_sub";
    public const string MosquittoPub = "/usr/bin/mosquitto_pub";
    public const string MosquittoClientsPackage = "mosquitto-clients";
    public const string Python3 = "/usr/bin/python3";
    public const string Stdbuf = "/usr/bin/stdbuf";

    /// <summary>Throws when <paramref name="path"/> does not exist, naming the Debian package that provides it.</summary>
    public static void Require(string path, string? debianPackage)
    {
        if (Path.IsPathRooted(path) && !File.Exists(path))
        {
            throw new MqttTestException(debianPackage is null
                ? $"{path} is missing."
                : $"{path} is missing: install the Debian package '{debianPackage}' (apt-get install -y {debianPackage}).");
        }
    }
}
