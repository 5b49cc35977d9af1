#!/usr/bin/env bash
# Runs every benchmark and evaluation in sequence and writes one summary: each
# benchmark's figures with the same-run baseline, the ratio, the target and the verdict,
# as markdown in BUILD_DIR/bench-summary.md (the raw rows in bench-results.tsv, each
# benchmark's full output in bench-logs/).
#
# Usage: scripts/bench-all.sh [--smoke] [--no-build] [--build-dir DIR] [--only a,b]
#   --smoke          every benchmark's smoke mode (tiny sizes, a few minutes in all): checks
#                    that each runs to the end and prints its table; figures are not judged
#   --no-build       run what is already built (vision_eval, which the default build
#                    leaves out, is still built when the vision evaluation runs)
#   --build-dir DIR  default build/
#   --only LIST      a subset: inventory,sync,telemetry,routing,orders,fleet,dispatch,
#                    forecast,replenish,search,pricing,notify,signin,vision
# The vision evaluation (scripts/eval-vision.sh) runs with --smoke when that script has
# the option, and is left out with a note otherwise; it prints its own tables.
# Exit status: 0 when every benchmark ran (and, without --smoke, met its targets), 1
# otherwise.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build"
smoke=0
build_flag=()
only="inventory,sync,telemetry,routing,orders,fleet,dispatch,forecast,replenish,search,pricing,notify,signin,vision"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --no-build) build_flag=(--no-build) ;;
    --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --only) only="$2"; shift ;;
    *) echo "bench-all.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done
mode_flag=()
mode=full
if [ "$smoke" = 1 ]; then mode_flag=(--smoke); mode=smoke; fi

mkdir -p "$build_dir/bench-logs"
results="$build_dir/bench-results.tsv"
summary="$build_dir/bench-summary.md"
: >"$results"
export SHOPEASY_BENCH_RESULTS="$results"
# A hung benchmark must not hold CI: smoke runs take seconds, full runs minutes.
limit_s=$([ "$smoke" = 1 ] && echo 300 || echo 3600)

statuses=()  # "name|command|exit|seconds|outcome"
overall=0
started_all=$(date +%s)
run_one() {  # name, command...
  local name="$1"; shift
  local log="$build_dir/bench-logs/$name.log" started status outcome
  echo
  echo "===== bench-all: $name: $*"
  started=$(date +%s)
  timeout --kill-after=10 "$limit_s" "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  case "$status" in
    0) outcome=$([ "$smoke" = 1 ] && echo "ran" || echo "targets met") ;;
    124|137) outcome="TIMED OUT after ${limit_s}s"; overall=1 ;;
    1) outcome=$([ "$smoke" = 1 ] && echo "FAILED" || echo "target MISSED or phase failed")
       overall=1 ;;
    *) outcome="FAILED"; overall=1 ;;
  esac
  statuses+=("$name|${*/#$root\//}|$status|$(( $(date +%s) - started ))|$outcome")
}

for name in ${only//,/ }; do
  case "$name" in
    inventory|sync|telemetry|routing|orders|fleet|dispatch|forecast|replenish|search|pricing|notify|signin)
      run_one "$name" bash "$root/scripts/bench-$name.sh" --build-dir "$build_dir" \
        "${build_flag[@]}" "${mode_flag[@]}"
      ;;
    vision)
      eval_script="$root/scripts/eval-vision.sh"
      if [ "$smoke" = 1 ] && ! grep -q -- '--smoke' "$eval_script"; then
        echo "===== bench-all: vision: left out (scripts/eval-vision.sh has no --smoke yet)"
        statuses+=("vision|scripts/eval-vision.sh --smoke|-|0|left out: no --smoke option yet")
        continue
      fi
      vision_args=(--build-dir "$build_dir" "${build_flag[@]}" "${mode_flag[@]}")
      if [ "$smoke" = 1 ] && grep -q -- '--no-fuzz' "$eval_script"; then
        vision_args+=(--no-fuzz)
      fi
      if [ "${#build_flag[@]}" -gt 0 ] && [ ! -x "$build_dir/bin/vision_eval" ]; then
        # vision_eval is not part of the default build.
        bash "$root/scripts/build.sh" "$build_dir" --targets vision_eval
      fi
      run_one vision bash "$eval_script" "${vision_args[@]}"
      ;;
    *) echo "bench-all.sh: no benchmark $name" >&2; exit 2 ;;
  esac
done
total_s=$(( $(date +%s) - started_all ))

{
  echo "# Benchmark summary ($mode run)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${total_s}s in all."
  if [ "$smoke" = 1 ]; then
    echo
    echo "Smoke run: tiny sizes that only show each benchmark still runs to the end and"
    echo "prints its table. The figures are NOT comparable with the targets; the verdicts"
    echo "below are the programs' own and were not judged."
  fi
  echo
  echo "Daemons started by the benchmarks run with the per-client HTTP rate limit off"
  echo "(http.rate_limit_per_s=0); the telemetry pipeline with its per-runner limit lifted."
  echo
  echo "| benchmark | command | exit | seconds | outcome |"
  echo "| --- | --- | --- | --- | --- |"
  for s in "${statuses[@]}"; do
    IFS='|' read -r n c e t o <<<"$s"
    echo "| $n | \`$c\` | $e | $t | $o |"
  done
  echo
  echo "| benchmark | figure | result | baseline (same run) | ratio | target | verdict |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  awk -F'\t' '{ for (i = 1; i <= 7; i++) gsub(/\|/, "\\|", $i);
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' \
    "$results"
  echo
  echo "Full outputs: bench-logs/ next to this file."
} >"$summary"

echo
echo "===== bench-all: ${total_s}s; summary in $summary"
cat "$summary"
exit "$overall"
