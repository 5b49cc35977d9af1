#!/usr/bin/env bash
# The replenishment proposal benchmark: builds replenish_bench and runs it. It seeds a
# real edge store with N SKUs (default 25,000), their supplier links and 91 days of
# ledger history, and times the proposal uncached (as before the forecast cache; above
# 2,000 SKUs scaled from 5 SKUs, each about 20 s at 25,000) and cached, cold and warm,
# and after sales of 1% of the SKUs; prints the ratios, the cache's memory and the peak
# RSS. Target: a warm proposal at least 20x faster than the uncached one.
#
# Usage: scripts/bench-replenish.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                   [-- replenish_bench args]
#   --quick     1,000 SKUs (the uncached proposal then runs in full and is compared)
#   --smoke     200 SKUs
#   e.g. scripts/bench-replenish.sh -- --skus=5000 --picks-per-day=2
# Exit status: 0 target met, 1 target missed (not with --smoke), 2 bad arguments, 3 the
# cached proposal differed from the uncached one or a phase failed.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=replenish
bench_target=replenish_bench
bench_quick_args=(--skus=1000)
bench_smoke_args=(--skus=200)
bench_missed_exit=1
bench_main "$@"
