#!/usr/bin/env bash
# The vision evaluation: builds vision_eval and runs its decode, speed and shelf parts,
# then builds it again with AddressSanitizer + UBSan and runs the degenerate-input part
# there. Prints markdown tables (decode rates of the decoder chain next to zxing-cpp and
# OpenCV alone and zbarimg on a sample; the scene types: two codes in a frame, codes cut
# by the frame's edge, larger QR and DataMatrix, catalogs sharing company prefixes; the
# same on real photos and zint renders;
# 1080p decoder speed; shelf-scan recall, precision and time, and the same without an
# empty reference over trading sequences from two renderers; degenerate-input
# outcomes) and writes them as JSON too. Seeds are fixed, so runs repeat.
#
# Real photos: the development set of real barcode photos (see outside_eval.hpp for
# its layout) is taken from $SHOPEASY_VISION_SAMPLES, else from ../shared/vision-samples
# beside the repository; without it that part is skipped with a message.
#
# Usage: scripts/eval-vision.sh [--quick | --smoke] [--jobs N] [--build-dir DIR]
#                               [--asan-build-dir DIR] [--samples DIR] [--no-build]
#                               [--no-fuzz] [-- vision_eval args]
#   --quick            100 images per set, 40 shelves, 1000 degenerate inputs (~3 min)
#   --smoke            the CI check: the chain alone on the real photos, zint renders,
#                      held-out generated scenes and scene types (about 1,050 images),
#                      and shelf scans without an empty reference (2 trading sequences
#                      of 11 frames per renderer; 1-3 minutes on two cores in all);
#                      exits 1 when a count falls below its
#                      floor (or wrong reads rise above their ceiling) in
#                      tests/bench/vision/smoke-floors.json. No sanitizer build.
#   --samples DIR      the real photos (default: see above)
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
smoke=0
samples="${SHOPEASY_VISION_SAMPLES:-$root/../shared/vision-samples}"
jobs=2
do_build=1
fuzz=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --smoke) smoke=1 ;;
    --samples) samples="$2"; shift ;;
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

if [ ! -d "$samples" ]; then
  echo "eval-vision.sh: no real photos at $samples (set SHOPEASY_VISION_SAMPLES); that part is skipped" >&2
fi

if [ "$smoke" = 1 ]; then
  start=$(date +%s)
  if [ "$do_build" = 1 ]; then
    configure "$build_dir"
    ninja -C "$build_dir" vision_eval
  elif [ ! -x "$build_dir/bin/vision_eval" ]; then
    echo "eval-vision.sh: $build_dir/bin/vision_eval is not built (build the vision_eval target)" >&2
    exit 2
  fi
  out_dir="$build_dir/vision-eval"
  mkdir -p "$out_dir"
  set +e
  "$build_dir/bin/vision_eval" --jobs "$jobs" --work-dir "$out_dir/work-smoke" \
    --samples "$samples" --floors "$root/tests/bench/vision/smoke-floors.json" \
    --json "$out_dir/smoke.json" "${extra[@]}" smoke | tee "$out_dir/smoke.md"
  rc=${PIPESTATUS[0]}
  set -e
  echo "eval-vision.sh: smoke check $([ "$rc" = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s; report in $out_dir/smoke.md"
  exit "$rc"
fi

command -v zbarimg >/dev/null || echo "eval-vision.sh: zbarimg not found (zbar-tools); its column stays empty" >&2
start=$(date +%s)
if [ "$do_build" = 1 ]; then
  configure "$build_dir"
  ninja -C "$build_dir" vision_eval
fi
out_dir="$build_dir/vision-eval"
mkdir -p "$out_dir"
"$build_dir/bin/vision_eval" "${quick[@]}" --jobs "$jobs" --work-dir "$out_dir/work" \
  --json "$out_dir/results.json" --samples "$samples" "${extra[@]}" decode scenes outside speed shelf shelf-learn | tee "$out_dir/report.md"

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
