#!/usr/bin/env bash
# The search benchmark: builds the search_bench program and runs it. It writes a
# 50,000-SKU grocery catalog into a fresh cloud database, starts the real
# shopeasy-cloud on it (the search index is built at start), registers a store and
# sends its stock through sync, then drives /api/inventory (the baseline), /api/suggest
# and /api/search over HTTP at 200 requests/s from 8 clients each, and prints p50/p99
# per route with the ratio to the inventory read of the same run, and the index's
# memory (daemon RSS minus that of a daemon on an empty database). About two minutes
# on a 2-core machine; --quick 10,000 SKUs and 10 s per route; --smoke 2,000 SKUs,
# 50 requests/s for 3 s.
#
# Usage: scripts/bench-search.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                [-- search_bench args]
#   e.g. scripts/bench-search.sh -- --rate=400 --clients=16 --seconds=30
#        scripts/bench-search.sh -- --noise-words=20000   (a vocabulary of ~18,000 words)
# Exit status: 0 measured, 2 a phase could not run.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=search
bench_target=search_bench
bench_quick_args=(--skus=10000 --seconds=10)
bench_smoke_args=(--skus=2000 --rate=50 --seconds=3)
bench_missed_exit=""
bench_programs=(shopeasy-cloud)
bench_main "$@"
