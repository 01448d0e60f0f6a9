# Tern MQTT broker. Build: docker build -t tern .   (or podman build)
# Run:   docker run -d --name tern -p 1883:1883 -p 8083:8083 -p 18083:18083 -v tern-data:/data tern
# See docs/install.md ("Container"); compose.yaml runs the same with a named volume.

# The two base images without their tag, for a mirror (--build-arg SDK_IMAGE=... RUNTIME_IMAGE=...);
# packaging/container-test.sh passes local stand-ins. The tag (the .NET version) stays here.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet

# Build stage: the SDK restores and publishes tern (framework-dependent: the runtime image has ASP.NET Core).
FROM ${SDK_IMAGE}:10.0 AS build
WORKDIR /src
# Project files first: the restore layer is reused until a project or package version changes.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig README.md ./
COPY src/Tern.Protocol/Tern.Protocol.csproj src/Tern.Protocol/
COPY src/Tern.Broker/Tern.Broker.csproj src/Tern.Broker/
COPY src/Tern.Client/Tern.Client.csproj src/Tern.Client/
COPY src/Tern.Server/Tern.Server.csproj src/Tern.Server/
COPY src/Tern.Cli/Tern.Cli.csproj src/Tern.Cli/
RUN dotnet restore src/Tern.Cli/Tern.Cli.csproj
COPY src/ src/
RUN dotnet publish src/Tern.Cli/Tern.Cli.csproj -c Release --no-restore -o /app

# Runtime stage: the ASP.NET Core runtime only, no SDK, running as the image's non-root user "app".
FROM ${RUNTIME_IMAGE}:10.0 AS runtime
# The working directory is /, so the default data directory "data" is /data: the store, the users
# file, ACL rules, the dashboard password and API keys all live in the volume.
WORKDIR /
RUN mkdir -p /data /etc/tern && chown "$APP_UID" /data
COPY --from=build /app /opt/tern
VOLUME ["/data"]
# MQTT over TCP, MQTT over WebSocket (/mqtt), dashboard and REST API.
EXPOSE 1883 8083 18083
USER $APP_UID
# Healthy once the MQTT listener accepts connections (the port follows TERN_Listeners__Tcp__Port).
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${TERN_Listeners__Tcp__Port:-1883}"]
# Exec form: tern is PID 1 and gets docker stop's SIGTERM (graceful stop) and docker kill -s HUP (reload).
ENTRYPOINT ["/opt/tern/tern"]
CMD ["start"]
