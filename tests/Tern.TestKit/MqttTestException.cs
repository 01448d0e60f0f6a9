namespace Tern.TestKit;

/// <summary>A failed expectation on a <see cref="RawMqttClient"/>; the message ends with the packet transcript.</summary>
public sealed class MqttTestException : Exception
{
    public MqttTestException(string message, RawMqttClient? client = null)
        : base(client is null ? message : $"{message}{Environment.NewLine}--- transcript of {client.Name} ---{Environment.NewLine}{client.Transcript}")
    {
    }

    public MqttTestException()
    {
    }

    public MqttTestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
