#!/usr/bin/env bash
# The notification soak: the chaos test (tests/integration/notify_chaos_test.cpp) at
# full size: 100,000 order events placed and cancelled by a signed-in customer while
# the cloud is SIGKILLed and restarted every 5 s; every event must reach the webhook
# sink (once per idempotency id) and the sandbox SMS. Prints the test's summary line.
# An hour or more on a 2-core machine.
#
# Usage: scripts/soak-notify.sh [--events N] [--kill-ms MS] [--build-dir DIR] [--no-build]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
events=100000
kill_ms=5000
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift ;;
    --kill-ms) kill_ms="$2"; shift ;;
    --build-dir) build_dir="$(cd "$2" && pwd)"; shift ;;
    --no-build) do_build=0 ;;
    *) echo "soak-notify.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$do_build" = 1 ]; then
  bash "$root/scripts/build.sh" "$build_dir" --targets notify_chaos_test,shopeasy-cloud
fi
export SHOPEASY_BIN_DIR="$build_dir/bin"
export SHOPEASY_NOTIFY_CHAOS_EVENTS="$events"
export SHOPEASY_NOTIFY_CHAOS_KILL_MS="$kill_ms"
exec "$build_dir/bin/notify_chaos_test"
