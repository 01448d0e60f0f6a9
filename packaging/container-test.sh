#!/usr/bin/env bash
# Builds the repository's Dockerfile with Podman and runs the image: a retained message published
# to the mapped MQTT port survives a container restart (the /data volume), the dashboard answers,
# and the broker runs as a non-root user.
#
# The official base images (mcr.microsoft.com/dotnet/sdk and aspnet) are replaced by local
# stand-ins made from Debian packages, so that the test needs no registry: a Debian bookworm
# root file system (debootstrap) with what the aspnet image adds (the libraries .NET needs, the
# .NET and ASP.NET Core runtimes, the user "app" as $APP_UID) and, for the SDK, this machine's .NET SDK.
#
# Needs root, podman, debootstrap, a .NET 10 SDK in /usr/share/dotnet, mosquitto-clients and curl.
# Usage: packaging/container-test.sh   (from anywhere; about 3 to 6 minutes)
# Every container, volume and image it makes is removed on exit, whatever the outcome.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
id="ct$$"
work=$(mktemp -d "/tmp/tern-container-test.XXXXXX")
base="localhost/tern-test-debian:$id"
# Named like the official images, without the tag the Dockerfile adds (10.0).
runtime_repo="localhost/tern-test-aspnet-$id" runtime_image="localhost/tern-test-aspnet-$id:10.0"
sdk_repo="localhost/tern-test-sdk-$id" sdk_image="localhost/tern-test-sdk-$id:10.0"
image="localhost/tern-test:$id"
container="tern-test-$id"
volume="tern-test-data-$id"
dotnet_root=${DOTNET_ROOT:-/usr/share/dotnet}

say() { echo "container-test: $*"; }

podman_args=()
# crun refuses a host whose cgroup v2 hierarchy is mounted beside v1 ("cgroups in hybrid mode not
# supported"); runc runs there.
if [[ -d /sys/fs/cgroup/unified ]] && command -v runc >/dev/null; then
    podman_args+=(--runtime runc)
fi
pod() { podman "${podman_args[@]}" "$@"; }

# As root, Podman gives a container 1048576 open files; a host with a lower hard limit and no
# CAP_SYS_RESOURCE cannot grant them, and every container fails to start. Ask for what it has.
# The process limit is set too: without it runc failed the same way (RLIMIT_NPROC) where 32768 works.
nofile=$(ulimit -Hn); [[ $nofile == unlimited || $nofile -gt 1048576 ]] && nofile=1048576
ulimits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=32768:32768")

cleanup() {
    local rc=$?
    if [[ $rc -ne 0 ]] && pod container exists "$container" 2>/dev/null; then
        say "container log:"; pod logs "$container" 2>&1 | tail -n 40 || true
    fi
    pod rm -f -t 0 "$container" >/dev/null 2>&1 || true
    pod volume rm -f "$volume" >/dev/null 2>&1 || true
    pod rmi -f "$image" "$sdk_image" "$runtime_image" "$base" >/dev/null 2>&1 || true
    rm -rf "$work"
    if [[ $rc -eq 0 ]]; then say ok; else say "FAILED (exit $rc)"; fi
}
trap cleanup EXIT
# A stopped test (SIGTERM from a timeout, Ctrl+C) still cleans up: exit runs the EXIT trap.
trap 'exit 143' TERM INT

started=$SECONDS

say "debootstrap bookworm (minbase) with the libraries .NET needs"
timeout 600 debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,zlib1g,tzdata \
    bookworm "$work/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; exit 1; }
tar -C "$work/rootfs" -c . | timeout 300 podman import -q - "$base" >/dev/null
rm -rf "$work/rootfs"

# What mcr.microsoft.com/dotnet/aspnet:10.0 adds to Debian: the runtimes in /usr/share/dotnet (where
# tern's launcher looks for them) and the non-root user "app" with its UID in APP_UID.
mkdir -p "$work/runtime"
cat >"$work/runtime/Containerfile" <<'EOF'
ARG BASE
FROM ${BASE}
ENV APP_UID=1654 DOTNET_RUNNING_IN_CONTAINER=true ASPNETCORE_HTTP_PORTS=8080
RUN mkdir -p /usr/share/dotnet \
 && cp -a /host-dotnet/dotnet /host-dotnet/host /host-dotnet/shared /usr/share/dotnet/ \
 && ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && groupadd --gid "$APP_UID" app \
 && useradd --no-log-init --uid "$APP_UID" --gid "$APP_UID" --create-home app
EOF
say "stand-in for the ASP.NET Core runtime image: $runtime_image"
timeout 600 podman "${podman_args[@]}" build -q "${ulimits[@]}" --build-arg "BASE=$base" \
    -v "$dotnet_root:/host-dotnet:ro" -t "$runtime_image" "$work/runtime" >/dev/null

# What the SDK image adds: the SDK. The machine's CA certificates come along so that a restore
# works where this machine's own HTTPS traffic needs them (a TLS-inspecting proxy).
mkdir -p "$work/sdk/ca"
find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$work/sdk/ca/" \; 2>/dev/null || true
cat >"$work/sdk/Containerfile" <<'EOF'
ARG BASE
FROM ${BASE}
ARG NUGET_CERT_REVOCATION_MODE=online
ENV DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 NUGET_CERT_REVOCATION_MODE=${NUGET_CERT_REVOCATION_MODE}
COPY ca/ /usr/local/share/ca-certificates/
RUN cp -a /host-dotnet/. /usr/share/dotnet/ && update-ca-certificates >/dev/null 2>&1
EOF
say "stand-in for the SDK image: $sdk_image"
timeout 600 podman "${podman_args[@]}" build -q "${ulimits[@]}" --build-arg "BASE=$runtime_image" \
    --build-arg "NUGET_CERT_REVOCATION_MODE=${NUGET_CERT_REVOCATION_MODE:-online}" \
    -v "$dotnet_root:/host-dotnet:ro" -t "$sdk_image" "$work/sdk" >/dev/null

say "podman build the Dockerfile: $image"
# Docker's image format: the OCI format has no HEALTHCHECK, and podman would drop it.
timeout 900 podman "${podman_args[@]}" build "${ulimits[@]}" --layers=false --format docker \
    --build-arg "SDK_IMAGE=$sdk_repo" --build-arg "RUNTIME_IMAGE=$runtime_repo" \
    -t "$image" "$repo" >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
grep '^Successfully tagged' "$work/build.log"

pod volume create "$volume" >/dev/null

# Podman's own messages only when a command fails: without systemd, every start and stop logs that it
# cannot set up the health check's timer, which the test does not use.
quiet() { "$@" >/dev/null 2>"$work/podman.err" || { cat "$work/podman.err"; return 1; }; }

# Host ports are chosen by podman (127.0.0.1::PORT), so the test never collides with a broker
# already on 1883 or 18083. The health check's timer is off: the test runs the check itself, once
# the broker listens, instead of waiting for the first 30-second interval.
run_container() {
    quiet pod run -d --name "$container" "${ulimits[@]}" -v "$volume:/data" --health-interval disable \
        -p 127.0.0.1::1883 -p 127.0.0.1::18083 "$image"
}

# Waits until the broker logs that MQTT and the dashboard listen (the given number of times: one
# per start), or fails after 60 seconds.
wait_listening() {
    local deadline=$((SECONDS + 60)) want=$1 log
    while log=$(pod logs "$container" 2>&1); [[ $(grep -c 'listening on mqtt://' <<<"$log") -lt $want \
            || $(grep -c 'Dashboard and REST API on' <<<"$log") -lt $want ]]; do
        if [[ $SECONDS -ge $deadline ]]; then say "no 'listening on' line within 60 s"; return 1; fi
        if [[ $(pod inspect -f '{{.State.Running}}' "$container") != true ]]; then say "the container exited"; return 1; fi
        sleep 0.5
    done
}

host_port() { pod port "$container" "$1/tcp" | head -n 1 | sed 's/.*://'; }

say "run it with the volume $volume on /data"
run_container
wait_listening 1
pod logs "$container" 2>&1 | sed 's/^/  /'
mqtt=$(host_port 1883)
dashboard=$(host_port 18083)
say "MQTT on 127.0.0.1:$mqtt, dashboard on 127.0.0.1:$dashboard"

user=$(pod exec "$container" id -u)
say "the broker runs as uid $user ($(pod exec "$container" id -un))"
[[ $user != 0 ]] || { say "the container runs as root"; exit 1; }
pid1=$(pod exec "$container" cat /proc/1/status | awk '/^Uid:/ {print $2}')
[[ $pid1 == "$user" ]] || { say "PID 1 runs as uid $pid1, not $user"; exit 1; }

pod healthcheck run "$container" || { say "the image's HEALTHCHECK fails"; exit 1; }
say "the image's HEALTHCHECK passes ($(pod inspect -f '{{.Config.Healthcheck.Test}}' "$container"))"

payload="kept across a restart $id"
timeout 20 mosquitto_pub -h 127.0.0.1 -p "$mqtt" -q 1 -r -t tern/container-test -m "$payload"
say "published a retained QoS 1 message to tern/container-test"

say "restart the container (SIGTERM, then a new start on the same volume)"
quiet timeout 60 podman "${podman_args[@]}" stop -t 30 "$container"
quiet pod start "$container"
wait_listening 2
pod logs "$container" 2>&1 | { grep 'Restored from' || true; } | tail -n 1 | sed 's/^/  /'
mqtt=$(host_port 1883)
dashboard=$(host_port 18083)

got=$(timeout 20 mosquitto_sub -h 127.0.0.1 -p "$mqtt" -t tern/container-test -C 1 -W 15) \
    || { say "no retained message on tern/container-test within 15 s of subscribing after the restart"; exit 1; }
say "read back: $got"
[[ $got == "$payload" ]] || { say "expected: $payload"; exit 1; }

status=$(timeout 20 curl -sS -o "$work/dashboard.html" -w '%{http_code}' "http://127.0.0.1:$dashboard/")
say "dashboard GET / -> HTTP $status, $(grep -o '<title>[^<]*</title>' "$work/dashboard.html" | head -n 1)"
[[ $status == 200 ]] || exit 1

say "image size $(pod image inspect -f '{{.Size}}' "$image" | numfmt --to=iec), done in $((SECONDS - started)) s"
