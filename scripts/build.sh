#!/usr/bin/env bash
# Configures and builds ShopEasy.
# Usage: scripts/build.sh [BUILD_DIR] [--targets T1,T2,...] [extra cmake args...]
#   BUILD_DIR          default build/, configured with RelWithDebInfo and warnings as errors
#   --targets LIST     build only these targets (comma- or space-separated) instead of the
#                      whole tree with every test and benchmark; SHOPEASY_BUILD_TARGETS
#                      in the environment does the same
# Compiles through ccache when it is installed (see CMakeLists.txt, SHOPEASY_CCACHE).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build_dir="$1"
  shift
fi
targets="${SHOPEASY_BUILD_TARGETS:-}"
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets="${2:?build.sh: --targets needs a list}"; shift ;;
    --targets=*) targets="${1#--targets=}" ;;
    *) cmake_args+=("$1") ;;
  esac
  shift
done

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSHOPEASY_WERROR=ON "${cmake_args[@]}"
else
  cmake -S "$root" -B "$build_dir" "${cmake_args[@]}" >/dev/null
fi
target_args=()
for t in ${targets//,/ }; do target_args+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${target_args[@]}"
