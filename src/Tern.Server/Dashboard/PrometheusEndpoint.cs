using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Tern.Broker;
using Tern.Server.Bridges;

namespace Tern.Server.Dashboard;

/// <summary>
/// The Prometheus scrape endpoint on the dashboard listener, at EMQX's path: OpenTelemetry's
/// exporter serves the broker's instruments (<see cref="BrokerMetrics"/>) and the bridges'
/// (<see cref="BridgeMetrics"/>) in the Prometheus text format. HTTP Basic authentication applies unless <c>Dashboard:PrometheusAuth</c> is false.
/// </summary>
internal static class PrometheusEndpoint
{
    /// <summary>The scrape path (EMQX 5's).</summary>
    public const string Path = "/api/v5/prometheus/stats";

    /// <summary>Registers the broker's metrics and an OpenTelemetry meter provider that exports them.</summary>
    public static void AddServices(IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton(static sp =>
        {
            var metrics = new BrokerMetrics(sp.GetRequiredService<MqttBroker>(), sp.GetRequiredService<IMeterFactory>());
            if (sp.GetService<BridgeService>() is { } bridges)
            {
                BridgeMetrics.Register(metrics.Meter, bridges);
            }

            return metrics;
        });
        services.AddOpenTelemetry()
            .ConfigureResource(static resource => resource.AddService(
                "tern", serviceVersion: typeof(MqttBroker).Assembly.GetName().Version?.ToString(3), autoGenerateServiceInstanceId: false))
            .WithMetrics(static metrics =>
            {
                metrics.AddMeter(BrokerMetrics.MeterName);
                // Deferred: the filter needs this host's meter factory, known once its services are built.
                ((IDeferredMeterProviderBuilder)metrics).Configure(OnlyThisHost);
                metrics.AddPrometheusExporter(static exporter =>
                {
                    // Every name already says it is Tern's; the scope label would only repeat it.
                    exporter.ScopeInfoEnabled = false;
                });
            });
    }

    /// <summary>
    /// Meters are process-wide: another broker in this process (an embedding app, a test) has a
    /// meter of the same name. Only the meter of this host's factory is exported.
    /// </summary>
    private static void OnlyThisHost(IServiceProvider services, MeterProviderBuilder builder)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        builder.AddView(instrument => ReferenceEquals(instrument.Meter.Scope, factory) ? null : MetricStreamConfiguration.Drop);
    }

    /// <summary>Maps the scrape endpoint into the dashboard's routes.</summary>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        // Created now rather than at the first scrape, so that any listener sees the instruments.
        endpoints.ServiceProvider.GetRequiredService<BrokerMetrics>();
        endpoints.MapPrometheusScrapingEndpoint(Path);
    }

    /// <summary>The request is a scrape (checked before authentication when <c>Dashboard:PrometheusAuth</c> is false).</summary>
    public static bool IsScrape(HttpRequest request) => request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase);
}
