#!/usr/bin/env bash
# The inventory benchmark: builds the inventory_bench program (and the shopeasy-edge
# daemon it starts), then runs it. It prints figures per phase and a summary table
# comparing each speed goal with its target and with a baseline measured in the same
# run: durable scan ingest over HTTP (next to the disk's own fdatasync latency), ledger
# writes against raw SQLite, and a 10k-SKU store. The daemons run with the per-client
# HTTP rate limit off (it would throttle the benchmark's own client). About 3-4
# minutes after the build on a 2-core machine; --smoke takes well under a minute.
#
# Usage: scripts/bench-inventory.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                   [-- inventory_bench args]
#   e.g. scripts/bench-inventory.sh -- --phases=3 --quick
# Exit status: 0 every phase measured (missed targets are marked MISSED in the table),
# 1 a phase failed, 2 bad arguments or nothing built.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=inventory
bench_target=inventory_bench
bench_programs=(shopeasy-edge)
bench_quick_args=(--quick)
bench_smoke_args=(--concurrency=4 --duration-ms=400 --warmup-ms=100 --http-threads=8
                  --catalog=200 --scans=1000 --threads=2 --skus=500 --lots-per-sku=2
                  --ledger-rows=10000 --reads=50 --ledger-reads=10)
bench_missed_exit=""
bench_main "$@"
