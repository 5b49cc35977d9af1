# shellcheck shell=bash disable=SC2154
# Sourced by the scripts/bench-*.sh: the options they share, the build of their one
# program and its run. Each script sets, then calls bench_main "$@":
#   bench_name         short name (inventory, sync, ...), the first column of the results
#   bench_target       the CMake target and program in bin/
#   bench_quick_args   program arguments for --quick
#   bench_smoke_args   program arguments for --smoke
#   bench_missed_exit  the program's exit status for "measured, a target missed" (empty:
#                      it has none; any non-zero status is then a failure)
#   bench_programs     other programs in bin/ the benchmark starts (optional)
#   bench_tools        commands it needs on PATH or in /usr/sbin (optional)
#
# Common options:
#   --build-dir DIR  build and run from DIR instead of build/
#   --no-build       run what is already built
#   --quick          smaller sizes
#   --smoke          seconds, tiny sizes: checks that the benchmark runs to the end and
#                    prints its table; the figures are printed but not judged (a missed
#                    target does not fail), only a crash, a phase that could not measure
#                    or a missing table does
#   -- ARGS          passed to the program (after the --quick/--smoke sizes, so they win)
# SHOPEASY_BENCH_RESULTS=FILE makes the program append its summary rows to FILE
# (tab-separated; scripts/bench-all.sh collects them).

bench_main() {
  local root build_dir do_build=1 mode="" extra=()
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  build_dir="$root/build"
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-dir) build_dir="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
      --no-build) do_build=0 ;;
      --quick) mode=quick ;;
      --smoke) mode=smoke ;;
      --) shift; extra=("$@"); break ;;
      *) echo "bench-$bench_name.sh: unknown option $1 (see the header of this script)" >&2
         exit 2 ;;
    esac
    shift
  done
  local args=()
  case "$mode" in
    quick) args=("${bench_quick_args[@]}") ;;
    smoke) args=("${bench_smoke_args[@]}") ;;
  esac
  args+=("${extra[@]}")

  if [ "$do_build" = 1 ]; then
    local started
    started=$(date +%s)
    bash "$root/scripts/build.sh" "$build_dir" --targets "$bench_target"
    echo "bench-$bench_name.sh: build took $(( $(date +%s) - started ))s"
  fi
  local bench="$build_dir/bin/$bench_target" p tool
  for p in "$bench" ${bench_programs[@]+"${bench_programs[@]/#/$build_dir/bin/}"}; do
    if [ ! -x "$p" ]; then
      echo "bench-$bench_name.sh: $p is missing; build first (or drop --no-build)" >&2
      exit 2
    fi
  done
  for tool in ${bench_tools[@]+"${bench_tools[@]}"}; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
      echo "bench-$bench_name.sh: $tool is not installed (scripts/install-deps.sh)" >&2
      exit 2
    fi
  done

  # The benchmarks find the daemons they start the way the integration tests do.
  export SHOPEASY_BIN_DIR="$build_dir/bin"
  local results="${SHOPEASY_BENCH_RESULTS:-}" own_results=""
  if [ "$mode" = smoke ] && [ -z "$results" ]; then
    own_results="$(mktemp)"
    results="$own_results"
  fi
  local rows_before=0
  if [ -n "$results" ] && [ -f "$results" ]; then
    rows_before=$(grep -c "^$bench_name	" "$results" || true)
  fi
  echo "bench-$bench_name.sh: $bench ${args[*]:-}${mode:+ ($mode)}"
  local started status=0
  started=$(date +%s)
  SHOPEASY_BENCH_RESULTS="$results" "$bench" ${args[@]+"${args[@]}"} || status=$?
  echo "bench-$bench_name.sh: benchmark took $(( $(date +%s) - started ))s (exit $status)"

  if [ "$mode" = smoke ]; then
    local rows_after=0
    if [ -f "$results" ]; then rows_after=$(grep -c "^$bench_name	" "$results" || true); fi
    [ -n "$own_results" ] && rm -f "$own_results"
    if [ -n "$bench_missed_exit" ] && [ "$status" = "$bench_missed_exit" ]; then
      echo "bench-$bench_name.sh: smoke run: figures not judged (a target missed at smoke sizes)"
      status=0
    fi
    if [ "$status" = 0 ] && [ "$rows_after" -le "$rows_before" ]; then
      echo "bench-$bench_name.sh: smoke run FAILED: the benchmark printed no summary rows" >&2
      status=1
    fi
  fi
  exit "$status"
}
