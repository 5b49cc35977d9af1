#!/usr/bin/env bash
# Checks the shipped Prometheus alerting rules (packaging/prometheus) with promtool:
# syntax (`promtool check rules`) and their unit tests in tests/alerts (`promtool test
# rules`: synthetic series in, the alerts that must and must not fire out). promtool is
# taken from Debian's prometheus package, unpacked into BUILD_DIR/promtool without
# installing it (installing would start a Prometheus server).
# Usage: scripts/check-alert-rules.sh [BUILD_DIR]   (default build/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
tool_dir="$build_dir/promtool"
promtool="$(command -v promtool || true)"
if [ -z "$promtool" ]; then
  promtool="$tool_dir/usr/bin/promtool"
  if [ ! -x "$promtool" ]; then
    mkdir -p "$tool_dir"
    if ! (cd "$tool_dir" && apt-get download prometheus >/dev/null 2>&1); then
      # No package lists yet (a fresh machine whose packages were all present).
      sudo_cmd=""
      if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
      $sudo_cmd apt-get update -qq
      (cd "$tool_dir" && apt-get download prometheus >/dev/null)
    fi
    dpkg -x "$tool_dir"/prometheus_*.deb "$tool_dir"
  fi
fi
"$promtool" check rules "$root/packaging/prometheus/shopeasy-cloud.rules.yml"
"$promtool" test rules "$root/tests/alerts/shopeasy-cloud.rules.test.yml"
echo "check-alert-rules.sh: the alerting rules pass their tests"
