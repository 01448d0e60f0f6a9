using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Tern.Cli.Commands;

/// <summary>Where the broker's API is and how <c>tern ctl</c> signs in.</summary>
/// <param name="Url">The dashboard's address as given, e.g. <c>http://127.0.0.1:18083</c>.</param>
/// <param name="User">The dashboard user, or an API key.</param>
/// <param name="Password">Its password, or the key's secret.</param>
/// <param name="IsApiKey">True when <paramref name="User"/> is an API key (for the error messages).</param>
/// <param name="CaCert">A PEM file of the CA certificates an https:// dashboard's certificate must chain to, instead of the system's.</param>
/// <param name="Insecure">Accept any certificate of an https:// dashboard (a self-signed one).</param>
internal sealed record CtlSettings(string Url, string User, string Password, bool IsApiKey, string? CaCert = null, bool Insecure = false);

/// <summary>A failure of a <c>tern ctl</c> command: its message is the one line printed on standard error.</summary>
internal sealed class CtlException(string message) : Exception(message);

/// <summary>An answer of the API: its status and its body, as sent.</summary>
internal sealed record CtlAnswer(HttpStatusCode Status, string Body)
{
    /// <summary>The body as JSON; an answer that is not JSON is an error naming the request.</summary>
    public JsonElement Json(string what)
    {
        try
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new CtlException($"The answer to {what} is not JSON: is --url (TERN_CTL_URL) the broker's dashboard address?");
        }
    }
}

/// <summary>A query string, built from the options that were given.</summary>
internal sealed class CtlQuery
{
    private readonly StringBuilder _text = new();

    /// <summary>Adds <c>name=value</c> when <paramref name="value"/> is not null.</summary>
    public void Add(string name, object? value)
    {
        if (value is null)
        {
            return;
        }

        _text.Append(_text.Length == 0 ? '?' : '&')
            .Append(name)
            .Append('=')
            .Append(Uri.EscapeDataString(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
    }

    public override string ToString() => _text.ToString();
}

/// <summary>
/// Sends requests to the broker's REST API with HTTP Basic credentials, and turns every failure
/// (unreachable, refused credentials, not found, bad input) into one <see cref="CtlException"/> line.
/// </summary>
internal sealed class CtlApi : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;
    private readonly CtlSettings _settings;
    private readonly string _base;
    private readonly CertificateCheck _check;

    private CtlApi(HttpClient http, CtlSettings settings, string @base, CertificateCheck check)
    {
        _http = http;
        _settings = settings;
        _base = @base;
        _check = check;
    }

    /// <summary>The dashboard's address as given, for messages.</summary>
    public string Url => _settings.Url;

    /// <summary>How this connects: the URL and the credentials.</summary>
    public CtlSettings Settings => _settings;

    /// <summary>Checks the URL and prepares a client that signs every request in.</summary>
    public static CtlApi Create(CtlSettings settings)
    {
        if (!Uri.TryCreate(settings.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Query.Length > 0)
        {
            throw new CtlException($"--url (TERN_CTL_URL) must be the dashboard's address such as {CtlCommand.DefaultUrl}, not '{settings.Url}'.");
        }

        var check = new CertificateCheck(settings.Insecure);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = check.Validate;
        if (settings.CaCert is { } caFile && !settings.Insecure)
        {
            // The given CAs only, as curl's --cacert: the system's trust store plays no part.
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(LoadCas(caFile));
        }

        var http = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.User}:{settings.Password}"));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", credentials);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        // A dashboard behind a proxy may live under a path (https://host/tern/): the API is below it.
        return new CtlApi(http, settings, uri.GetLeftPart(UriPartial.Path).TrimEnd('/'), check);
    }

    /// <summary>The certificates of a PEM file; a missing or unreadable file is a <see cref="CtlException"/>.</summary>
    private static X509Certificate2Collection LoadCas(string file)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path))
        {
            throw new CtlException($"--cacert (TERN_CTL_CACERT): file not found: {path}");
        }

        X509Certificate2Collection cas = [];
        try
        {
            cas.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw new CtlException($"--cacert (TERN_CTL_CACERT): {path} is not a PEM certificate file: {ex.Message}");
        }

        return cas.Count > 0 ? cas : throw new CtlException($"--cacert (TERN_CTL_CACERT): {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
    }

    /// <summary>Checks an https:// dashboard's certificate and keeps why it was refused, for the message.</summary>
    private sealed class CertificateCheck(bool insecure)
    {
        public SslPolicyErrors Refused { get; private set; }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (insecure || errors == SslPolicyErrors.None)
            {
                return true;
            }

            Refused = errors;
            return false;
        }
    }

    /// <summary>GETs <paramref name="path"/> (from <c>/api/...</c>, its parts escaped).</summary>
    public Task<CtlAnswer> GetAsync(string path, CancellationToken ct, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Get, path, null, ct, notFound);

    /// <summary>DELETEs <paramref name="path"/>.</summary>
    public Task<CtlAnswer> DeleteAsync(string path, CancellationToken ct, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Delete, path, null, ct, notFound);

    /// <summary>POSTs a JSON document to <paramref name="path"/>; <paramref name="conflict"/> words a 409 (it exists already).</summary>
    public Task<CtlAnswer> PostAsync(string path, string json, CancellationToken ct, Func<string>? conflict = null, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Post, path, json, ct, notFound, conflict);

    /// <summary>PUTs a JSON document to <paramref name="path"/>.</summary>
    public Task<CtlAnswer> PutAsync(string path, string json, CancellationToken ct, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Put, path, json, ct, notFound);

    /// <summary>GETs <paramref name="path"/>, or null when the API answers that the thing asked for does not exist.</summary>
    public Task<CtlAnswer?> FindAsync(string path, CancellationToken ct)
        => SendOrNullAsync(HttpMethod.Get, path, null, ct, null, null, absentIsNull: true);

    private async Task<CtlAnswer> SendAsync(HttpMethod method, string path, string? json, CancellationToken ct, Func<string>? notFound, Func<string>? conflict = null)
        => (await SendOrNullAsync(method, path, json, ct, notFound, conflict, absentIsNull: false).ConfigureAwait(false))!;

    /// <summary>
    /// Sends one request and returns a successful answer; any other outcome is a <see cref="CtlException"/>.
    /// <paramref name="notFound"/> words a 404 for the thing asked for (e.g. "No client 'x'."), or with
    /// <paramref name="absentIsNull"/> that 404 is null.
    /// </summary>
    private async Task<CtlAnswer?> SendOrNullAsync(HttpMethod method, string path, string? json, CancellationToken ct, Func<string>? notFound, Func<string>? conflict, bool absentIsNull)
    {
        var what = $"{method} {path.Split('?')[0]}";
        using var request = new HttpRequestMessage(method, _base + path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        HttpResponseMessage response;
        string body;
        try
        {
            response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            // Something answered when TLS failed or the connection ended: asking whether the broker runs would mislead.
            var answered = _check.Refused != SslPolicyErrors.None || ex.HttpRequestError is HttpRequestError.SecureConnectionError or HttpRequestError.ResponseEnded;
            throw new CtlException($"Cannot reach the broker's API at {Url}: {Reason(ex)}." + (answered ? "" : " Is 'tern start' running with the dashboard on? (--url, TERN_CTL_URL)"));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CtlException($"The broker's API at {Url} did not answer {what} within {Timeout.TotalSeconds:F0} s.");
        }

        using (response)
        {
            var status = response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new CtlAnswer(status, body);
            }

            var (code, message) = ErrorOf(body);

            // An API error (with a code) rather than a path the server does not know.
            if (absentIsNull && status == HttpStatusCode.NotFound && code is not null)
            {
                return null;
            }

            throw new CtlException(status switch
            {
                HttpStatusCode.Unauthorized => _settings.IsApiKey
                    ? $"The broker at {Url} refused the API key '{_settings.User}' ({code ?? "401"}): check --api-key (TERN_CTL_API_KEY)."
                    : $"The broker at {Url} refused the credentials of user '{_settings.User}' ({code ?? "401"}): check --user and --password (TERN_CTL_USER, TERN_CTL_PASSWORD), or give --api-key.",
                HttpStatusCode.NotFound when notFound is not null && code is not null => notFound(),
                HttpStatusCode.NotFound => $"The broker at {Url} has no {what} (404): is --url the address of a Tern dashboard with the /api/v5 API?",
                HttpStatusCode.Conflict when conflict is not null => conflict(),
                HttpStatusCode.BadRequest when message is not null => message,
                _ => $"The broker at {Url} answered {what} with {(int)status} {response.ReasonPhrase}" + (message is null ? "." : $": {message}"),
            });
        }
    }

    /// <summary>
    /// The <c>code</c> and <c>message</c> of an error, if the body is one: the broker's problem
    /// details (RFC 9457) carry EMQX's two members, and <c>detail</c> when a proxy's lacks them.
    /// </summary>
    private static (string? Code, string? Message) ErrorOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            string? Text(string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return (Text("code"), Text("message") ?? Text("detail"));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>Why a connection failed, in a few words ("connection refused").</summary>
    private string Reason(HttpRequestException ex)
    {
        if (_check.Refused.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"the broker's certificate is not issued for '{new Uri(_base).Host}': give --url the name or address the certificate names, or --insecure to skip the check";
        }

        if (_check.Refused != SslPolicyErrors.None)
        {
            return _settings.CaCert is null
                ? "the broker's certificate is not trusted: give --cacert with the certificate of the CA that signed it (or the certificate itself, if self-signed), or --insecure to skip the check"
                : $"the broker's certificate does not chain to a certificate of --cacert {_settings.CaCert}";
        }

        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "unknown host",
                    SocketError.TimedOut => "connection timed out",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "no route to the host",
                    _ => socket.Message,
                };
            }
        }

        return ex.HttpRequestError switch
        {
            HttpRequestError.SecureConnectionError => "the TLS handshake failed (http:// or https://?)",
            HttpRequestError.InvalidResponse => "the answer is not HTTP (is --url the dashboard port?)",

            // An HTTPS port closes a connection that starts with plain HTTP.
            HttpRequestError.ResponseEnded when _base.StartsWith("http:", StringComparison.Ordinal) => "the connection was closed without an answer (is the dashboard on https://?)",
            _ => ex.Message.TrimEnd('.'),
        };
    }

    public void Dispose() => _http.Dispose();
}
