#!/usr/bin/env bash
# The test command (see README.md): installs what the tests need, builds, runs every test,
# and ends with one line "N passed, M failed". Exits nonzero if anything failed.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The in-process brokers of the tests run as 'tern start' does: socket completions inline (see src/Tern.Cli/Program.cs).
export DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1

# Third-party MQTT peers for the interop tests, AFL++ for the short fuzz run, the headless
# Chromium the dashboard tests drive, the Prometheus server that scrapes a broker, systemd-analyze
# that checks packaging/tern.service, and Podman with debootstrap that build and run the container
# image (Debian packages).
packages=(mosquitto mosquitto-clients python3-paho-mqtt afl++ chromium prometheus systemd podman debootstrap runc curl)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm run MQTT.js for the WebSocket interop tests; Debian's are enough when none is on PATH.
if ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "test.sh: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  mosquitto_was_installed=$(dpkg-query -W -f='${Status}' mosquitto 2>/dev/null | grep -c "install ok installed" || true)
  echo "test.sh: installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  # The package starts a system mosquitto on port 1883 where systemd runs; the tests start their
  # own brokers, and 1883 is where 'tern start' listens by default.
  if [[ $mosquitto_was_installed == 0 ]] && command -v systemctl >/dev/null \
     && systemctl is-active --quiet mosquitto 2>/dev/null; then
    echo "test.sh: stopping the mosquitto system service the package just started (port 1883)"
    "${sudo[@]}" systemctl disable --now mosquitto || true
  fi
fi

# MQTT.js for the WebSocket interop tests, pinned by tests/Tern.Interop.Tests/node/package-lock.json.
if ! command -v npm >/dev/null; then
  echo "test.sh: npm is missing (Debian: apt-get install -y nodejs npm)" >&2
  echo "0 passed, 0 failed"
  exit 1
fi
npm ci --prefix tests/Tern.Interop.Tests/node --no-audit --no-fund --loglevel=error

if ! dotnet build Tern.slnx -c Release; then
  echo "test.sh: build failed" >&2
  echo "0 passed, 0 failed"
  exit 1
fi

rm -rf TestResults
test_status=0
dotnet test Tern.slnx -c Release --no-build \
  --logger "trx" --results-directory TestResults \
  --blame-hang-timeout 10m --blame-hang-dump-type none || test_status=$?

# Sum the counters of every test project's .trx; errored, timed-out and aborted tests count as failed.
passed=0
failed=0
attr() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2"; }
shopt -s nullglob globstar
for trx in TestResults/**/*.trx; do
  file_failed=0
  while IFS= read -r counters; do
    v=$(attr passed "$counters"); passed=$((passed + ${v:-0}))
    for name in failed error timeout aborted; do
      v=$(attr "$name" "$counters"); file_failed=$((file_failed + ${v:-0}))
    done
  done < <(grep -o '<Counters [^>]*>' "$trx")
  # A test host that crashes or hangs leaves a failed run with no failed test: count the run as one.
  if ((file_failed == 0)) && grep -qE '<ResultSummary outcome="(Failed|Aborted|Error|Timeout)"' "$trx"; then
    echo "test.sh: a test run failed without a failed test (crashed or aborted test host): $trx" >&2
    file_failed=1
  fi
  failed=$((failed + file_failed))
done

if ((test_status != 0 && failed == 0)); then
  echo "test.sh: dotnet test failed (exit code $test_status) without a failed test in the results" >&2
fi

# The short coverage-guided fuzz run (docs/fuzzing.md): AFL++ on each SharpFuzz target from the seed
# corpus for TERN_FUZZ_SECONDS (default 30; 0 skips it). Each target counts as one test: it fails on
# a crash or hang AFL++ saved, and when AFL++ could not run at all.
fuzz_seconds=${TERN_FUZZ_SECONDS:-30}
if ((fuzz_seconds > 0)); then
  for target in decoder broker; do
    if TERN_FUZZ_NO_BUILD=1 TERN_FUZZ_FRESH=1 fuzz/run.sh "$target" "$fuzz_seconds"; then
      passed=$((passed + 1))
    else
      echo "test.sh: the AFL++ fuzz run of the $target target failed (findings and log in fuzz/out/$target)" >&2
      failed=$((failed + 1))
    fi
  done
fi

# The container image (docs/install.md): packaging/container-test.sh builds the Dockerfile with Podman
# from local stand-ins for the base images and runs it (a retained message kept in the /data volume
# across a restart, the dashboard, the health check, a non-root user). One test; after the others, as
# it keeps both cores busy for a few minutes. TERN_CONTAINER_TEST=0 skips it.
if [[ ${TERN_CONTAINER_TEST:-1} != 0 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo -E)
  fi
  if timeout 1200 "${as_root[@]}" packaging/container-test.sh; then
    passed=$((passed + 1))
  else
    echo "test.sh: the container image test failed (packaging/container-test.sh, output above)" >&2
    failed=$((failed + 1))
  fi
fi

echo "$passed passed, $failed failed"
if ((failed > 0 || test_status != 0)); then
  exit 1
fi
