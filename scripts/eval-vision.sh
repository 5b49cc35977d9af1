#!/usr/bin/env bash
# The vision evaluation: builds vision_eval and runs its decode, speed and shelf parts,
# then builds it again with AddressSanitizer + UBSan and runs the degenerate-input part
# there. Prints markdown tables (decode rates of the decoder chain next to zxing-cpp and
# OpenCV alone and zbarimg on a sample; 1080p decoder speed; shelf-scan recall,
# precision and time; degenerate-input outcomes) and writes them as JSON too.
# Figures are measured on generated images; seeds are fixed, so runs repeat.
#
# Usage: scripts/eval-vision.sh [--quick] [--jobs N] [--build-dir DIR] [--asan-build-dir DIR]
#                               [--no-build] [--no-fuzz] [-- vision_eval args]
#   --quick            100 images per set, 40 shelves, 1000 degenerate inputs (~3 min)
#   --jobs N           worker threads for the decode and shelf parts (default 2)
#   --build-dir DIR    default build-eval/ (configured if needed)
#   --asan-build-dir   default build-eval-asan/
#   --no-build         run what is already built
#   --no-fuzz          skip the sanitizer build and the degenerate-input part
# The full run (1,000 images per symbology at each of four levels, 200 shelves, 10,000
# degenerate inputs) takes about 25 minutes on two busy cores after the builds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build-eval"
asan_dir="$root/build-eval-asan"
quick=()
jobs=2
do_build=1
fuzz=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --jobs) jobs="$2"; shift ;;
    --build-dir) build_dir="$2"; shift ;;
    --asan-build-dir) asan_dir="$2"; shift ;;
    --no-build) do_build=0 ;;
    --no-fuzz) fuzz=0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "eval-vision.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done

configure() {  # dir, extra cmake args...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSHOPEASY_SKIP_INCOMPLETE_TESTS=ON "$@" >/dev/null
  fi
}

command -v zbarimg >/dev/null || echo "eval-vision.sh: zbarimg not found (zbar-tools); its column stays empty" >&2
start=$(date +%s)
if [ "$do_build" = 1 ]; then
  configure "$build_dir"
  ninja -C "$build_dir" vision_eval
fi
out_dir="$build_dir/vision-eval"
mkdir -p "$out_dir"
"$build_dir/bin/vision_eval" "${quick[@]}" --jobs "$jobs" --work-dir "$out_dir/work" \
  --json "$out_dir/results.json" "${extra[@]}" decode speed shelf | tee "$out_dir/report.md"

if [ "$fuzz" = 1 ]; then
  if [ "$do_build" = 1 ]; then
    configure "$asan_dir" -DSHOPEASY_SANITIZE=ON
    ninja -C "$asan_dir" vision_eval
  fi
  # A report from either sanitizer ends the run with an error.
  ASAN_OPTIONS="abort_on_error=1:detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$asan_dir/bin/vision_eval" "${quick[@]}" --work-dir "$out_dir/work-asan" \
    --json "$out_dir/fuzz.json" fuzz | tee -a "$out_dir/report.md"
fi
echo "eval-vision.sh: done in $(( $(date +%s) - start ))s; report in $out_dir/report.md"
