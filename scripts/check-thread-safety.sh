#!/usr/bin/env bash
# Checks lock ownership with clang's thread safety analysis: every member marked
# GUARDED_BY is touched with its mutex held, every REQUIRES function is called with it
# held, no lock is released twice or leaked. The project builds with GCC, which ignores
# the annotations (common/sync/thread_annotations.hpp), so this runs clang in
# -fsyntax-only mode over the files that use common/sync, with each file's include
# paths, definitions and language standard taken from compile_commands.json (GCC's
# warning and code-generation flags are dropped: clang rejects some, and only the
# analysis matters here). Any diagnostic fails the check.
#
# Usage: scripts/check-thread-safety.sh [BUILD_DIR] [-j N]
#   BUILD_DIR  default build/; configured here (not built) when it has no
#              compile_commands.json. Nothing needs to be built first, except generated
#              headers, which none of the checked files include.
#   -j N       parallel clang processes, default nproc
#
# Checked that it catches a real mistake: with the sync::MutexLock line removed from
# CatalogPageCache::drop_all (cloud/api/catalog_page_cache.cpp) the check fails with
# "reading variable 'pages_' requires holding mutex 'mutex_'"; with the ReaderLock
# removed from StoreIndex::size() it fails with "reading variable 'by_id_' requires
# holding shared_mutex 'mutex_'"; restoring either makes it pass again. It takes 10 to
# 30 s for these files on two shared cores (the HTTP server's file is the slowest).
#
# A module moved onto common/sync adds its files to `files` below.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
jobs="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs="${2:?check-thread-safety.sh: -j needs a number}"; shift ;;
    -j*) jobs="${1#-j}" ;;
    -*) echo "check-thread-safety.sh: unknown option $1" >&2; exit 2 ;;
    *) build_dir="$1" ;;
  esac
  shift
done

clang="${CLANGXX:-clang++}"
if ! command -v "$clang" >/dev/null 2>&1; then
  echo "check-thread-safety.sh: $clang not found (scripts/install-deps.sh installs clang)" >&2
  exit 2
fi

# The files whose locks are annotated (sources and their tests).
files=(
  common/sync/mutex.cpp
  common/sync/mutex_test.cpp
  common/metrics/metrics.cpp
  cloud/routing/store_index.cpp
  cloud/api/order_event_hub.cpp
  cloud/api/catalog_page_cache.cpp
  cloud/daemon/registry_watcher.cpp
  cloud/pricing/pricing_service.cpp
  cloud/pricing/pricing_routes.cpp
  cloud/notify/notify_service.cpp
  cloud/fleet/fleet_service.cpp
  cloud/fleet/sqlite_fleet_stats.cpp
  cloud/fleet/postgres_fleet_stats.cpp
  edge/events/event_bus.cpp
  edge/store/edge_store.cpp
  common/http/server.cpp
  common/http/elastic_pool.cpp
  edge/api/scan_frame_routes.cpp
  edge/orders/order_runner_events.cpp
  edge/telemetry/registry.cpp
  edge/telemetry/roster.cpp
  edge/telemetry/trail_store.cpp
  edge/telemetry/telemetry.cpp
  edge/telemetry/ingest.cpp
  edge/dispatch/dispatcher.cpp
  edge/replenish/forecast_cache.cpp
  edge/replenish/replenishment.cpp
  edge/replenish/stock_cover.cpp
  edge/sync/sync_client.cpp
  edge/pricing/pricing_follower.cpp
  edge/alerts/alert_board.cpp
  edge/scan/mqtt_scan_intake.cpp
  edge/diskguard/disk_guard.cpp
  edge/vision/vision_service.cpp
  cloud/search/search_service.cpp
  common/search/search_index.cpp
  common/search/search_index_test.cpp
  edge/search/product_search.cpp
  common/security/http_guard.cpp
  common/security/rate_limiter.cpp
  common/security/audit_log.cpp
  common/security/user_store.cpp
  common/clock/clock.cpp
  common/clock/clock_test.cpp
  common/log/log.cpp
  common/log/log_test.cpp
  edge/dispatch/dispatcher_test.cpp
  tools/runner/runner_device.cpp
  tools/runner/runner_daemon.cpp
  cloud/storage/sqlite_cloud_store.cpp
  cloud/storage/postgres_cloud_store.cpp
  cloud/storage/postgres_session.cpp
  cloud/payments/webhook.cpp
  cloud/payments/sandbox_provider.cpp
  cloud/payments/provider_http.cpp
  cloud/payments/razorpay_provider.cpp
  cloud/payments/fake_provider_common.cpp
  cloud/payments/fake_razorpay.cpp
  cloud/payments/fake_stripe.cpp
  cloud/accounts/postgres_account_store.cpp
  cloud/accounts/sqlite_account_store.cpp
  cloud/accounts/http_sms_provider.cpp
  cloud/accounts/deleted_account_gate.cpp
)

db="$build_dir/compile_commands.json"
if [ ! -f "$db" ]; then
  generator=()
  if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
  fi
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    >/dev/null
fi

start_ms=$(($(date +%s%N) / 1000000))
status=0
if python3 - "$root" "$db" "$clang" "$jobs" "${files[@]}" <<'PY'
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

root, db, clang, jobs, files = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
entries = {}
for e in json.load(open(db)):
    path = os.path.normpath(os.path.join(e["directory"], e["file"]))
    entries[path] = e

# Flags that change what the source means are kept; everything else (warnings,
# optimisation, debug info, GCC-only options) is dropped.
KEEP_WITH_ARG = {"-I", "-isystem", "-D", "-U", "-include", "-iquote"}
KEEP_PREFIX = ("-I", "-isystem", "-D", "-U", "-std=", "-iquote", "-pthread")

def clang_args(entry):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out = []
    it = iter(args[1:])
    for a in it:
        if a in KEEP_WITH_ARG:
            out += [a, next(it)]
        elif a in ("-o", "-MF", "-MT", "-MQ"):
            next(it)
        elif a.startswith(KEEP_PREFIX):
            out.append(a)
    return out

missing = []
commands = []
for f in files:
    path = os.path.normpath(os.path.join(root, f))
    entry = entries.get(path)
    if entry is None:
        # Tests are not configured when SHOPEASY_BUILD_TESTS is off; sources always are.
        if not f.endswith("_test.cpp"):
            missing.append(f)
        continue
    cmd = [clang, "-fsyntax-only", "-Werror", "-Wthread-safety", "-Wthread-safety-beta",
           "-Werror=thread-safety"] + clang_args(entry) + [path]
    commands.append((f, cmd, entry["directory"]))
if missing:
    print("check-thread-safety: not in compile_commands.json (is the target configured?): "
          + " ".join(missing), file=sys.stderr)
    sys.exit(2)

def run(item):
    f, cmd, cwd = item
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return f, r.returncode, r.stdout + r.stderr

failed = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
    for f, rc, output in pool.map(run, commands):
        if rc != 0 or output.strip():
            failed += 1
            sys.stderr.write(output)
            print(f"check-thread-safety: FAILED {f}", file=sys.stderr)
print(f"check-thread-safety: {len(commands)} files, {failed} failed")
sys.exit(1 if failed else 0)
PY
then :; else status=$?; fi
end_ms=$(($(date +%s%N) / 1000000))
echo "check-thread-safety: $((end_ms - start_ms)) ms"
exit "$status"
