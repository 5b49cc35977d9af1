#!/usr/bin/env bash
# The browser tests of the store command center and the customer app (tests/browser): installs Chromium and
# Node.js if missing, installs playwright-core from the npm registry into the build
# directory, builds the daemons they start, and runs them. Screenshots, daemon logs and
# the measured figures (figures.json) land in <build>/browser-artifacts.
# Usage: scripts/test-browser.sh [--build-dir DIR] [--soak-seconds N] [--long] [--no-build]
#   --soak-seconds N  how long the 100 events/s memory check runs (default 60)
#   --long            the 10-minute memory check (same as --soak-seconds 600)
#   --no-build        use the daemons already built
#   --only REGEX      run just the tests whose names match (e.g. --only handheld, --only shop)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
soak=60
build=1
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift ;;
    --soak-seconds) soak="$2"; shift ;;
    --long) soak=600 ;;
    --no-build) build=0 ;;
    --only) only=(--only "$2"); shift ;;
    *) echo "test-browser.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

bash "$root/scripts/install-deps.sh" --with-browser
if [ "$build" -eq 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  ninja -C "$build_dir" shopeasy-edge shopeasy-cloud shopeasy-runner shopeasy-edge-users \
    shopeasy-vision-gen
fi

# playwright-core only (it downloads no browser): the tests drive Debian's Chromium.
modules="$build_dir/browser-tests"
mkdir -p "$modules"
cp "$root/tests/browser/package.json" "$modules/package.json"
# Debian 12's own Node.js is 18; the newest playwright-core needs 20, 1.56 still runs on 18.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  sed -i 's/"playwright-core": "[^"]*"/"playwright-core": "1.56.1"/' "$modules/package.json"
fi
if [ ! -d "$modules/node_modules/playwright-core" ] ||
   ! cmp -s "$modules/package.json" "$modules/.installed-package.json"; then
  (cd "$modules" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error)
  cp "$modules/package.json" "$modules/.installed-package.json"
fi

exec node "$root/tests/browser/run.mjs" --bin-dir "${SHOPEASY_BIN_DIR:-$build_dir/bin}" \
  --artifacts "$build_dir/browser-artifacts" --modules "$modules" --soak-seconds "$soak" "${only[@]}"
