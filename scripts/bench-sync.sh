#!/usr/bin/env bash
# The sync benchmark: builds the tree with scripts/build.sh (which includes the
# sync_bench program and the shopeasy-edge and shopeasy-cloud daemons it starts), then
# runs it. It prints figures per phase and a summary table comparing each speed goal
# with its target and with a baseline measured in the same run: the drain of a long
# offline outbox (SQLite and PostgreSQL clouds), 100 stores syncing at once, bytes on
# the wire per change, live commit-to-cloud latency, and network cuts during a drain.
# About 5 minutes after the build on a 2-core machine; --quick runs smaller sizes in
# about 2.5.
#
# Usage: scripts/bench-sync.sh [--quick] [--build-dir DIR] [--no-build] [-- sync_bench args]
#   --quick          smaller sizes (200,000-change drains, shorter stages)
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   e.g. scripts/bench-sync.sh -- --phases=1 --batches=5000 --no-postgres
# Exit status: 0 all targets met, 1 a target missed, 2 a phase could not measure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
do_build=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) bench_args+=(--quick) ;;
    --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --no-build) do_build=0 ;;
    --) shift; bench_args+=("$@"); break ;;
    *) echo "bench-sync.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$do_build" = 1 ]; then
  start=$(date +%s)
  bash "$root/scripts/build.sh" "$build_dir"
  echo "bench-sync.sh: build took $(( $(date +%s) - start ))s"
fi
bench="$build_dir/bin/sync_bench"
for f in "$bench" "$build_dir/bin/shopeasy-edge" "$build_dir/bin/shopeasy-cloud"; do
  if [ ! -x "$f" ]; then
    echo "bench-sync.sh: $f is missing; build first" >&2
    exit 2
  fi
done
# The benchmark finds the daemons the way the integration tests do.
export SHOPEASY_BIN_DIR="$build_dir/bin"
echo "bench-sync.sh: $bench ${bench_args[*]:-}"
start=$(date +%s)
status=0
"$bench" "${bench_args[@]}" || status=$?
echo "bench-sync.sh: benchmark took $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
