#!/usr/bin/env bash
# The inventory benchmark: builds the tree with scripts/build.sh (which includes the
# inventory_bench program and the shopeasy-edge daemon it starts), then runs it. It
# prints figures per phase and a summary table comparing each speed goal with its
# target and with a baseline measured in the same run. About 3-4 minutes after the
# build on a 2-core machine.
#
# Usage: scripts/bench-inventory.sh [--build-dir DIR] [--no-build] [-- inventory_bench args]
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   e.g. scripts/bench-inventory.sh -- --phases=3 --quick
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
    *) echo "bench-inventory.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$do_build" = 1 ]; then
  start=$(date +%s)
  bash "$root/scripts/build.sh" "$build_dir"
  echo "bench-inventory.sh: build took $(( $(date +%s) - start ))s"
fi
bench="$build_dir/bin/inventory_bench"
if [ ! -x "$bench" ] || [ ! -x "$build_dir/bin/shopeasy-edge" ]; then
  echo "bench-inventory.sh: $bench or shopeasy-edge is missing; build first" >&2
  exit 1
fi
# The benchmark finds the daemon the way the integration tests do.
export SHOPEASY_BIN_DIR="$build_dir/bin"
echo "bench-inventory.sh: $bench ${bench_args[*]:-}"
start=$(date +%s)
status=0
"$bench" "${bench_args[@]}" || status=$?
echo "bench-inventory.sh: benchmark took $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
