#!/usr/bin/env bash
# The runner-telemetry benchmark: builds the telemetry_bench target (configuring the
# build directory as scripts/build.sh does if it is new) and runs it. It starts its own mosquitto on a free loopback port and
# prints figures per phase, then a summary comparing each goal with its target; the
# broker phase measures the edge pipeline against a raw libmosquitto subscriber and
# mosquitto_sub on the same stream. About 3-5 minutes on a 2-core machine (the 10 M
# row trail file takes ~1 GB of temporary disk).
#
# Usage: scripts/bench-telemetry.sh [--build-dir DIR] [--no-build] [-- telemetry_bench args]
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   e.g. scripts/bench-telemetry.sh -- --phases=2 --messages=2000000
#        scripts/bench-telemetry.sh -- --quick
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
do_build=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --no-build) do_build=0 ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "bench-telemetry.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$do_build" = 1 ]; then
  start=$(date +%s)
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    generator=()
    if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
    cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSHOPEASY_WERROR=ON
  fi
  cmake --build "$build_dir" --target telemetry_bench -j "$(nproc)"
  echo "bench-telemetry.sh: build took $(( $(date +%s) - start ))s"
fi
bench="$build_dir/bin/telemetry_bench"
if [ ! -x "$bench" ]; then
  echo "bench-telemetry.sh: $bench is missing; build first" >&2
  exit 1
fi
for tool in mosquitto mosquitto_pub mosquitto_sub; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench-telemetry.sh: $tool is not installed (scripts/install-deps.sh)" >&2
    exit 1
  fi
done
echo "bench-telemetry.sh: $bench ${bench_args[*]:-}"
start=$(date +%s)
status=0
"$bench" "${bench_args[@]}" || status=$?
echo "bench-telemetry.sh: benchmark took $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
