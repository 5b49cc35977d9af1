#!/usr/bin/env bash
# The routing benchmark: builds the routing_bench program and runs it. It prints rank()
# latency for 10,000 stores next to a brute-force scan of every store measured in the
# same run (wall clock and thread CPU time, p50/p99 in microseconds, target p99 < 100
# us), and the number of points out of 1,000,000 where the geohash index disagrees with
# a search over every store (target 0). About a minute after the build on a 2-core
# machine.
#
# Usage: scripts/bench-routing.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                 [-- routing_bench args]
#   --quick  100,000 agreement points instead of 1,000,000
#   e.g. scripts/bench-routing.sh -- --stores=20000 --seed=7
# Exit status: 0 all targets met, 1 a target missed (not with --smoke), 2 bad arguments.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=routing
bench_target=routing_bench
bench_quick_args=(--agreement-points=100000)
bench_smoke_args=(--stores=1000 --queries=2000 --baseline-queries=100 --agreement-points=5000)
bench_missed_exit=1
bench_main "$@"
