#!/usr/bin/env bash
# The forecasting benchmark: builds the forecast_bench program and runs it. It prints
# the rolling-origin backtest (8 weekly folds) of the real till data in the shared data
# directory (bakery-sales.csv hourly, grocery-daily.csv daily) and of generated series:
# WAPE, bias and RMSSE of every method and of the per-SKU chosen one against seasonal
# naive and the 4-week same-hour mean (targets: WAPE >= 25% below seasonal naive and
# >= 5% below the 4-week mean, bias within +-5%, RMSSE below both); the bias under
# generated stock-outs on 20% of days, censoring-aware (target within +-3%) next to a
# naive fit; and a refit of 25,000 SKUs x 90 days hourly on one core (targets <= 30 s
# CPU, <= 300 MB RSS). Under a minute after the build on a 2-core machine.
# Before it, the replenishment simulation (shopeasy-forecast replenish-sim): the same
# data's daily demand replayed with lost sales under the proposal policy (forecast
# quantiles, fill-rate target 95%) and under the best static min/max at the same fill
# rate: fill rate, lost, expired, average units on hand. A --smoke run without the data
# simulates generated demand instead (--no-data).
#
# Usage: scripts/bench-forecast.sh [--data DIR] [--quick|--smoke] [--build-dir DIR]
#                                  [--no-build] [-- forecast_bench args]
#   --data DIR  the shared data directory with bakery-sales.csv and grocery-daily.csv
#               (default: ../shared/data beside the repository)
#   --quick     5,000 SKUs in the refit instead of 25,000
#   e.g. scripts/bench-forecast.sh -- --folds=4 --seed=7
# Exit status: 0 all targets met, 1 a target missed (not with --smoke), 2 bad arguments
# or the data directory unreadable (a --smoke run then leaves the real data out instead).
set -euo pipefail
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
data_dir="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data_dir="${2:?bench-forecast.sh: --data needs a directory}"; shift ;;
    --) shift; break ;;
    *) pass+=("$1") ;;
  esac
  shift
done
data_arg="--data=$data_dir"
for f in bakery-sales.csv grocery-daily.csv; do
  if [ ! -r "$data_dir/$f" ]; then
    case " ${pass[*]:-} " in
      *" --smoke "*)
        # A smoke run checks that the benchmark runs; the generated series need no data.
        echo "bench-forecast.sh: $data_dir/$f is not readable; smoke run without the real till data"
        data_arg="--no-data"
        break ;;
    esac
    echo "bench-forecast.sh: $data_dir/$f is not readable; pass the shared data directory with --data DIR" >&2
    exit 2
  fi
done
# The replenishment simulation; its figures are printed, not judged.
replenish_sim() {
  local root build_dir no_build=0 prev="" a
  root="$(cd "$(dirname "$0")/.." && pwd)"
  build_dir="$root/build"
  for a in ${pass[@]+"${pass[@]}"}; do
    [ "$prev" = --build-dir ] && build_dir="$a"
    [ "$a" = --no-build ] && no_build=1
    prev="$a"
  done
  if [ "$no_build" = 0 ]; then
    bash "$root/scripts/build.sh" "$build_dir" --targets shopeasy-forecast
  fi
  local sim="$build_dir/bin/shopeasy-forecast"
  if [ ! -x "$sim" ]; then
    echo "bench-forecast.sh: $sim is missing; build first (or drop --no-build)" >&2
    exit 2
  fi
  local runs=()
  if [ "$data_arg" = --no-data ]; then
    runs=("--no-data")
  else
    runs=("--history $data_dir/bakery-sales.csv"
          "--history $data_dir/bakery-sales.csv --lead-time-days 1 --shelf-life-days 2"
          "--history $data_dir/grocery-daily.csv")
  fi
  local run
  for run in "${runs[@]}"; do
    echo "bench-forecast.sh: shopeasy-forecast replenish-sim $run"
    # shellcheck disable=SC2086  # the run's words are separate arguments
    "$sim" replenish-sim $run || { echo "bench-forecast.sh: replenish-sim failed" >&2; exit 1; }
    echo
  done
}
replenish_sim

bench_name=forecast
bench_target=forecast_bench
bench_quick_args=(--refit-skus=5000)
bench_smoke_args=(--refit-skus=500 --stockout-skus=300 --generated-skus=50)
bench_missed_exit=1
bench_main ${pass[@]+"${pass[@]}"} -- "$data_arg" "$@"
