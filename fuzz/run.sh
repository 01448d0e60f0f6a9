#!/usr/bin/env bash
# Coverage-guided fuzzing of Tern with AFL++ and SharpFuzz (see docs/fuzzing.md).
#
#   fuzz/run.sh <decoder|broker> <seconds> [afl-fuzz options...]
#
# Builds fuzz/Tern.Fuzz, copies its output to fuzz/out/<target>/bin, instruments Tern.Protocol.dll
# (and Tern.Broker.dll for the broker target) there with sharpfuzz, and runs afl-fuzz on
# fuzz/corpus for <seconds> (0 = until Ctrl-C). Findings go to fuzz/out/<target>/findings; a run
# with the same target resumes them. Afterwards every crash and hang is replayed uninstrumented
# with its stack printed. Exits 1 when AFL++ saved a crash or hang, 2 when it could not run.
#
# Environment: TERN_FUZZ_NO_BUILD=1 skips the build (test.sh has just built); TERN_FUZZ_FRESH=1
# starts from the seed corpus instead of resuming the findings.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
seconds=${2:-}
if [[ $target != decoder && $target != broker ]] || ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh <decoder|broker> <seconds> [afl-fuzz options...]" >&2
  exit 2
fi
shift 2

if ! command -v afl-fuzz >/dev/null; then
  echo "fuzz/run.sh: afl-fuzz not found: apt-get install afl++" >&2
  exit 2
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [[ ${TERN_FUZZ_NO_BUILD:-} != 1 ]]; then
  dotnet build fuzz/Tern.Fuzz/Tern.Fuzz.csproj -c Release -v q -nologo >/dev/null
fi
dotnet tool restore >/dev/null

out=fuzz/out/$target
rm -rf "$out/bin"
mkdir -p "$out"
cp -r fuzz/Tern.Fuzz/bin/Release/net10.0 "$out/bin"
assemblies=(Tern.Protocol.dll)
if [[ $target == broker ]]; then
  assemblies+=(Tern.Broker.dll)
fi
for dll in "${assemblies[@]}"; do
  dotnet sharpfuzz "$out/bin/$dll" >/dev/null
done

# dotnet itself is not an AFL binary; SharpFuzz speaks the fork server protocol from managed code.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1 AFL_AUTORESUME=1
if [[ ${TERN_FUZZ_FRESH:-} == 1 ]]; then
  rm -rf "$out/findings"
fi
duration=()
limit=()
if ((seconds > 0)); then
  duration=(-V "$seconds")
  # -V counts from the end of the dry run; past this the run is stuck: stop it (AFL++ stops its target).
  limit=(timeout -k 10 $((seconds + 120)))
fi

echo "fuzz/run.sh: afl-fuzz on the $target target for ${seconds}s (findings in $out/findings)"
status=0
# -t: each input may take 10 s before AFL++ calls it a hang (the broker target reports its own at 2 s).
# No '+' suffix: that would mean 'auto-calculate up to', and a timeout kills SharpFuzz's in-process
# fork server (AFL++ kills the reported child, which is the fuzzer process itself).
"${limit[@]}" afl-fuzz -i fuzz/corpus -o "$out/findings" -m none -t 10000 "${duration[@]}" "$@" \
  -- dotnet "$out/bin/Tern.Fuzz.dll" afl "$target" >"$out/afl.log" 2>&1 || status=$?

stats=$out/findings/default/fuzzer_stats
# On a loaded machine AFL++'s dry run now and then sees an empty coverage map from the first
# input and refuses to start ("No instrumentation detected"); that is the harness starting, not
# a finding, so it gets one more try.
if [[ ! -f $stats ]] && grep -q "No instrumentation detected" "$out/afl.log"; then
  echo "fuzz/run.sh: afl-fuzz saw no instrumentation on its dry run; starting it once more"
  status=0
  "${limit[@]}" afl-fuzz -i fuzz/corpus -o "$out/findings" -m none -t 10000 "${duration[@]}" "$@" \
    -- dotnet "$out/bin/Tern.Fuzz.dll" afl "$target" >"$out/afl.log" 2>&1 || status=$?
fi
if [[ ! -f $stats ]]; then
  echo "fuzz/run.sh: afl-fuzz did not start (exit $status); its log:" >&2
  tail -n 40 "$out/afl.log" >&2
  exit 2
fi

stat() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(find "$out/findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$out/findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "fuzz/run.sh: $target: $(stat execs_done) execs, $(stat execs_per_sec) execs/s, corpus $(stat corpus_count), coverage $(stat bitmap_cvg), stability $(stat stability), $crashes crashes, $hangs hangs"

if ((crashes + hangs > 0)); then
  echo "fuzz/run.sh: replaying the crashes and hangs uninstrumented:"
  dotnet fuzz/Tern.Fuzz/bin/Release/net10.0/Tern.Fuzz.dll replay "$target" \
    "$out/findings/default/crashes" "$out/findings/default/hangs" || true
  exit 1
fi
if ((status != 0)); then
  echo "fuzz/run.sh: afl-fuzz exited with $status; its log:" >&2
  tail -n 40 "$out/afl.log" >&2
  exit 2
fi
