#!/usr/bin/env bash
# The sign-in benchmark: builds signin_bench and runs it. A hello-world cpp-httplib
# server is timed first (4 keep-alive clients posting a small JSON body); then the real
# shopeasy-cloud (SQLite, sandbox SMS provider) signs in 2,000 distinct phone numbers
# from the same 4 clients: POST /api/auth/otp and POST /api/auth/verify are timed, the
# code is read back from the sandbox between them (the provider's side, not timed).
# Prints p50/p99 of each call beside the baseline's. Target: p99 < 20 ms for each.
# About 15 s; --quick 500 numbers; --smoke 40.
#
# Usage: scripts/bench-signin.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                [-- signin_bench args]
#   e.g. scripts/bench-signin.sh -- --numbers=5000 --clients=8
# Exit status: 0 target met, 1 target missed, 2 a phase could not run.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=signin
bench_target=signin_bench
bench_quick_args=(--numbers=500 --baseline=1000)
bench_smoke_args=(--numbers=40 --baseline=100)
bench_missed_exit=1
bench_programs=(shopeasy-cloud)
bench_main "$@"
