#!/usr/bin/env bash
# The pricing benchmark: builds the pricing_bench program and runs it. It reprices
# 25,000 SKUs x 100 stores with the engine on one core (target <= 1 s), then starts the
# real shopeasy-cloud with 200 priced SKUs, a competitor feed and a load signal, and
# sends 2,000 POST /api/quote of 10 lines one at a time, each followed by a
# GET /api/inventory of 10 items as the same-run baseline; prints p50/p99 of both and
# their ratio (target: quote p99 <= 5 ms); then starts 10 real shopeasy-edge daemons
# following the cloud's pricing view and times the kill switch (off, then on again)
# until every edge's /api/pricing shows it (target <= 1 s). About a minute; --quick 5,000
# SKUs, 500 quotes and 5 edges; --smoke 1,000 SKUs x 10 stores, 50 quotes and 2 edges.
#
# Usage: scripts/bench-pricing.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                 [-- pricing_bench args]
#   e.g. scripts/bench-pricing.sh -- --requests=10000
# Exit status: 0 targets met, 1 a target missed, 2 a phase could not run.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=pricing
bench_target=pricing_bench
bench_quick_args=(--skus=5000 --requests=500 --edges=5)
bench_smoke_args=(--skus=1000 --stores=10 --requests=50 --edges=2)
bench_missed_exit=1
bench_programs=(shopeasy-cloud shopeasy-edge)
bench_main "$@"
