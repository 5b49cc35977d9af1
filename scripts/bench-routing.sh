#!/usr/bin/env bash
# The routing benchmark: configures the build directory if needed, builds only the
# routing_bench program, then runs it. It prints rank() latency for 10,000 stores next
# to a brute-force scan of every store measured in the same run (wall clock and thread
# CPU time, p50/p99 in microseconds, target p99 < 100 us), and the number of points out
# of 1,000,000 where the geohash index disagrees with a search over every store
# (target 0). About a minute after the build on a 2-core machine.
#
# Usage: scripts/bench-routing.sh [--quick] [--build-dir DIR] [--no-build] [-- routing_bench args]
#   --quick          100,000 agreement points instead of 1,000,000
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   e.g. scripts/bench-routing.sh -- --stores=20000 --seed=7
# Exit status: 0 all targets met, 1 a target missed, 2 bad arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
do_build=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) bench_args+=(--agreement-points=100000) ;;
    --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --no-build) do_build=0 ;;
    --) shift; bench_args+=("$@"); break ;;
    *) echo "bench-routing.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
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
  cmake --build "$build_dir" -j "$(nproc)" --target routing_bench
  echo "bench-routing.sh: build took $(( $(date +%s) - start ))s"
fi
bench="$build_dir/bin/routing_bench"
if [ ! -x "$bench" ]; then
  echo "bench-routing.sh: $bench is missing; build first" >&2
  exit 1
fi
echo "bench-routing.sh: $bench ${bench_args[*]:-}"
start=$(date +%s)
status=0
"$bench" "${bench_args[@]}" || status=$?
echo "bench-routing.sh: benchmark took $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
