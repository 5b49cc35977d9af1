#!/usr/bin/env bash
# The notification benchmark: builds notify_bench and runs it. It measures a local
# webhook sink's requests/s from plain keep-alive client threads (the baseline), then
# writes 20,000 pending notifications into a fresh cloud database's outbox, starts the
# real shopeasy-cloud with the sink as notify.webhook_url and measures notifications/s
# from the first delivery to the last distinct id (every signature checked), printed
# with the ratio to the baseline. Target: at least 2,000 notifications/s on a 2-core
# machine. About 20 s; --quick 5,000 notifications; --smoke 500.
#
# Usage: scripts/bench-notify.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                                [-- notify_bench args]
#   e.g. scripts/bench-notify.sh -- --senders=8 --batch=1000
# Exit status: 0 target met, 1 target missed, 2 a phase could not run.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=notify
bench_target=notify_bench
bench_quick_args=(--events=5000 --baseline=5000)
bench_smoke_args=(--events=500 --baseline=500)
bench_missed_exit=1
bench_programs=(shopeasy-cloud)
bench_main "$@"
