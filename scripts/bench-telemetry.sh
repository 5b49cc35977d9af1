#!/usr/bin/env bash
# The runner-telemetry benchmark: builds the telemetry_bench program and runs it. It
# starts its own mosquitto on a free loopback port and prints figures per phase, then a
# summary comparing each goal with its target; the broker phase measures the edge
# pipeline against a raw libmosquitto subscriber and mosquitto_sub on the same stream
# (the same-run baseline). The pipeline runs with the per-runner rate limit lifted.
# About 3-5 minutes on a 2-core machine (the 10 M row trail file takes ~1 GB of
# temporary disk); --smoke takes seconds.
#
# Usage: scripts/bench-telemetry.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                   [-- telemetry_bench args]
#   e.g. scripts/bench-telemetry.sh -- --phases=2 --messages=2000000
# Exit status: 0 all targets met, 1 a target missed (not with --smoke), 2 could not run.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=telemetry
bench_target=telemetry_bench
bench_tools=(mosquitto mosquitto_pub mosquitto_sub)
bench_quick_args=(--quick)
bench_smoke_args=(--messages=20000 --trail-rows=20000)
bench_missed_exit=1
bench_main "$@"
