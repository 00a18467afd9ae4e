#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (ctest calls this; see
# tests/fuzz/README.md). Usage:
#   run_fuzzer.sh <binary> <name> <seconds> <seed corpus dir> <work dir> [<dict>]
# TOLLGATE_FUZZ_SECONDS overrides <seconds> (make fuzz). New inputs found go
# to <work dir>/corpus (kept across runs; the committed seeds are never
# written); a crash, leak, timeout or out-of-memory fails the run and leaves
# its reproducer in <work dir>/ (crash-*, leak-*, timeout-*, oom-*).
# Reproduce with: <binary> <work dir>/crash-...
# TOLLGATE_FUZZ_ARGS adds libFuzzer flags (e.g. "-fork=1 -ignore_crashes=1"
# to collect every distinct crash in one run).
set -uo pipefail

binary=$1 name=$2 seconds=${TOLLGATE_FUZZ_SECONDS:-$3} seeds=$4 work=$5 dict=${6:-}
mkdir -p "$work/corpus"
log="$work/fuzz.log"
args=(
  -max_total_time="$seconds"
  -timeout=25              # seconds per input: a slower one is a hang
  -rss_limit_mb=2048       # and a bigger one is a memory bug (also caps single mallocs)
  -max_len=65536
  -print_final_stats=1
  -artifact_prefix="$work/"
)
[ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
# shellcheck disable=SC2206
[ -n "${TOLLGATE_FUZZ_ARGS:-}" ] && args+=($TOLLGATE_FUZZ_ARGS)

# Stacks with file:line: the sanitizers need llvm-symbolizer (any version works).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for candidate in llvm-symbolizer-16 llvm-symbolizer; do
    if command -v "$candidate" >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v "$candidate"); break; fi
  done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

"$binary" "${args[@]}" "$work/corpus" "$seeds" >"$log" 2>&1
status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
corpus=$(find "$work/corpus" -type f | wc -l)
seed_count=$(find "$seeds" -type f | wc -l)
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
summary="fuzz $name: ${runs:-?} runs in ${seconds}s, ${cov:-cov ?}, corpus $corpus new + $seed_count seeds, exit $status"
echo "$summary" | tee "$work/summary.txt"
if [ $status -ne 0 ]; then
  # The report: from libFuzzer's/the sanitizer's first error line to the end.
  awk '/^==[0-9]+==|^INFO: libFuzzer|property violated|runtime error|^SUMMARY|deadly signal|ERROR: libFuzzer/ {p=1} p' "$log" | tail -120
  ls -1 "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | sed 's/^/reproducer: /'
  echo "reproduce: $binary <reproducer>   (TOLLGATE_FUZZ_LOG=1 for the daemon's logs; full log $log)"
fi
exit $status
