#!/usr/bin/env bash
# The orders benchmark: builds the orders_bench program and runs it. It loads 1,000
# stores x 10,000 SKUs into a SQLite cloud store, places orders (routing over the store
# index + holds in one transaction) from 2 threads, and compares with a baseline
# measured in the same run (one-row UPDATE transactions on the same file); then the
# same placement on a throwaway PostgreSQL server, with the store's retries (deadlock,
# serialization, connection) per 1,000 placements. Several minutes on a 2-core machine,
# mostly loading 10 million stock rows per backend; --quick uses 100 stores x 1,000
# SKUs; --smoke 20 x 200 and no PostgreSQL.
#
# Usage: scripts/bench-orders.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                [-- orders_bench args]
#   e.g. scripts/bench-orders.sh -- --orders=50000 --threads=2 --no-postgres
# Exit status: 0 SQLite target met (>= 2,000 orders/s, p99 < 10 ms), 1 missed (not
# with --smoke), 2 could not measure.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=orders
bench_target=orders_bench
bench_quick_args=(--stores=100 --skus=1000 --orders=5000)
bench_smoke_args=(--stores=20 --skus=200 --orders=500 --no-postgres)
bench_missed_exit=1
bench_main "$@"
