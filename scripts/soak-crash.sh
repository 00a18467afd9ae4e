#!/usr/bin/env bash
# Longer crash soak: runs the kill -9 crash test N times (default 20, i.e.
# ~420 kill points) against a build dir, stopping at the first failure.
# Usage: scripts/soak-crash.sh [build-dir] [runs]
set -euo pipefail
build=${1:-build}
runs=${2:-20}
bin="$build/tests/integration_tests"
[[ -x $bin ]] || { echo "no $bin; build first" >&2; exit 2; }
for i in $(seq 1 "$runs"); do
  echo "== soak run $i/$runs"
  "$bin" --gtest_filter='Crash.*' --gtest_brief=1 | grep -E 'crash \]|FAILED|PASSED' || { echo "soak failed on run $i" >&2; exit 1; }
done
echo "soak: $runs runs passed"
