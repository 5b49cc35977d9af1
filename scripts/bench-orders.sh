#!/usr/bin/env bash
# The orders benchmark: builds the orders_bench program (scripts/build.sh, then the one
# target) and runs it. It loads 1,000 stores x 10,000 SKUs into a SQLite cloud store,
# places orders (routing over the store index + holds in one transaction) from 2
# threads, and compares with a baseline measured in the same run (one-row UPDATE
# transactions on the same file); then the same placement on a throwaway PostgreSQL
# server. Several minutes on a 2-core machine, mostly loading 10 million stock rows per
# backend; --quick uses 100 stores x 1,000 SKUs.
#
# Usage: scripts/bench-orders.sh [--quick] [--build-dir DIR] [--no-build] [-- orders_bench args]
#   e.g. scripts/bench-orders.sh -- --orders=50000 --threads=2 --no-postgres
# Exit status: 0 SQLite target met (>= 2,000 orders/s, p99 < 10 ms), 1 missed, 2 could
# not measure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
do_build=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) bench_args+=(--stores=100 --skus=1000 --orders=5000) ;;
    --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --no-build) do_build=0 ;;
    --) shift; bench_args+=("$@"); break ;;
    *) echo "bench-orders.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$do_build" = 1 ]; then
  bash "$root/scripts/build.sh" "$build_dir"
  cmake --build "$build_dir" --target orders_bench
fi
bench="$build_dir/bin/orders_bench"
if [ ! -x "$bench" ]; then
  echo "bench-orders.sh: $bench is missing (build first, or drop --no-build)" >&2
  exit 2
fi
exec "$bench" "${bench_args[@]}"
