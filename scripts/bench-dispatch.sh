#!/usr/bin/env bash
# The dispatch benchmark: builds the dispatch_bench program and runs it. It times the
# dispatch decision for 50 runners and 20 packed orders over many random instances
# (p50, p99, max against the 5 ms target and the solver's time budget, judged on the
# thread's CPU time; wall time is reported beside it, since on a loaded machine it
# holds time the scheduler kept the thread waiting), compares the plans with a greedy
# nearest-first dispatcher, and times the exact 5-stop drop order. Pure CPU, no broker
# or database; well under a minute on a 2-core machine.
#
# Usage: scripts/bench-dispatch.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                  [-- dispatch_bench args]
#   e.g. scripts/bench-dispatch.sh -- --instances=5000 --budget-us=2000
# Exit status: 0 all targets met, 1 a target missed (not with --smoke), 2 bad arguments.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=dispatch
bench_target=dispatch_bench
bench_quick_args=(--quick)
bench_smoke_args=(--instances=50 --drop-problems=500)
bench_missed_exit=1
bench_main "$@"
