#!/usr/bin/env bash
# The sync benchmark: builds the sync_bench program (and the shopeasy-edge and
# shopeasy-cloud daemons it starts), then runs it. It prints figures per phase and a
# summary table comparing each speed goal with its target and with a baseline measured
# in the same run: the drain of a long offline outbox (SQLite and PostgreSQL clouds),
# 100 stores syncing at once, bytes on the wire per change, live commit-to-cloud
# latency, and network cuts during a drain. The daemons run with the per-client HTTP
# rate limit off. About 5 minutes after the build on a 2-core machine; --quick runs
# smaller sizes in about 2.5; --smoke (no PostgreSQL) in well under a minute.
#
# Usage: scripts/bench-sync.sh [--quick|--smoke] [--build-dir DIR] [--no-build]
#                              [-- sync_bench args]
#   e.g. scripts/bench-sync.sh -- --phases=1 --batches=5000 --no-postgres
# Exit status: 0 all targets met, 1 a target missed (not with --smoke), 2 a phase could
# not measure.
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
bench_name=sync
bench_target=sync_bench
bench_programs=(shopeasy-edge shopeasy-cloud)
bench_quick_args=(--quick)
bench_smoke_args=(--quick --no-postgres --changes=5000 --batches=1000 --pipeline-sample=1000
                  --skus=500 --edges=4 "--fleet-seconds=1,1" --fleet-http-threads=0
                  --live-seconds=2 --live-rate=50 --cut-changes=3000 --cuts=2 --cut-batch=500
                  --no-quick-ack-check)
bench_missed_exit=1
bench_main "$@"
