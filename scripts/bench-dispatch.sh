#!/usr/bin/env bash
# The dispatch benchmark: builds the dispatch_bench target (configuring the build
# directory as scripts/build.sh does if it is new) and runs it. It times the dispatch
# decision for 50 runners and 20 packed orders over many random instances (p50, p99,
# max against the 5 ms target and the solver's time budget), compares the plans with a
# greedy nearest-first dispatcher, and times the exact 5-stop drop order. Pure CPU, no
# broker or database; well under a minute on a 2-core machine.
#
# Usage: scripts/bench-dispatch.sh [--build-dir DIR] [--no-build] [-- dispatch_bench args]
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   e.g. scripts/bench-dispatch.sh -- --instances=5000 --budget-us=2000
#        scripts/bench-dispatch.sh -- --quick
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
    *) echo "bench-dispatch.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
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
  cmake --build "$build_dir" --target dispatch_bench -j "$(nproc)"
  echo "bench-dispatch.sh: build took $(( $(date +%s) - start ))s"
fi
bench="$build_dir/bin/dispatch_bench"
if [ ! -x "$bench" ]; then
  echo "bench-dispatch.sh: $bench is missing; build first" >&2
  exit 1
fi
echo "bench-dispatch.sh: $bench ${bench_args[*]:-}"
start=$(date +%s)
status=0
"$bench" "${bench_args[@]}" || status=$?
echo "bench-dispatch.sh: benchmark took $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
