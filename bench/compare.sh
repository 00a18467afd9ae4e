#!/usr/bin/env bash
# Redis vs tollgate on this machine, same client (redis-benchmark), same run:
# GCRA via EVALSHA, INCR and PING on Redis; CHECK and PING on tollgate; 50
# connections at pipeline 1, 16 and 64, plus one connection at pipeline 1 for
# the round-trip p50. Prints one table (throughput, p50, p99, server CPU as a
# share of one core and in ns per request, read from /proc/<pid>/stat before
# and after each run, so it holds even when the client saturates first) and
# writes the same as JSON to bench/results/compare-<date>.json.
#
# Usage: bench/compare.sh [--quick] [--redis-only] [--before BIN] [--build DIR] [--out DIR]
#   --quick       a short smoke run (fixed request counts, ~20 s; CPU figures rough)
#   --redis-only  skip the tollgate half (works before tollgated exists)
#   --before BIN  also run the tollgate cases on another tollgated binary (an
#                 older build), as before-*, for a before/after in one run
# Run via `make compare` (builds build/ first). Needs redis-server and
# redis-benchmark (Debian: redis-server, redis-tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build"
out_dir="$here/results"
quick=0
redis_only=0
before_bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --redis-only) redis_only=1 ;;
    --before) before_bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    --out) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

script_name=compare
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install redis-server redis-tools python3)"
done
tollgated="$build/tollgated"
if [ "$redis_only" -eq 0 ] && [ ! -x "$tollgated" ]; then
  die "tollgated not built: run make build (or use --redis-only for the Redis half alone)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-compare.XXXXXX")
redis_pid=""
tollgate_pid=""
cleanup() {
  # Only the servers this script started, by pid.
  for pid in $tollgate_pid $redis_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $tollgate_pid $redis_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

clock_ticks=$(getconf CLK_TCK)

results="$tmp/results.tsv"
: >"$results"

# run_case NAME SERVER_PID SOCKET CLIENTS PIPELINE ARGS...: one redis-benchmark
# run sized for ~target seconds (a short probe measures the rate first).
target_seconds=2.5
run_case() {
  local name=$1 pid=$2 socket=$3 clients=$4 pipeline=$5
  shift 5
  local n
  if [ "$quick" -eq 1 ]; then
    n=$(( clients == 1 ? 20000 : 200000 ))
  else
    local probe_n=$(( clients == 1 ? 10000 : 50000 ))
    local probe
    probe=$(redis-benchmark -s "$socket" -c "$clients" -P "$pipeline" -r 100000 -n "$probe_n" --csv "$@" 2>/dev/null |
            awk -F'"' 'NR == 2 { print $4 }')
    [ -n "$probe" ] || die "$name: redis-benchmark probe failed (is the command supported?)"
    n=$(awk -v rps="$probe" -v t="$target_seconds" 'BEGIN { n = int(rps * t); if (n < 10000) n = 10000; print n }')
  fi
  local before_ticks after_ticks start_ns end_ns line
  before_ticks=$(cpu_ticks "$pid")
  start_ns=$(date +%s%N)
  line=$(redis-benchmark -s "$socket" -c "$clients" -P "$pipeline" -r 100000 -n "$n" --csv "$@" 2>/dev/null |
         awk 'NR == 2')
  end_ns=$(date +%s%N)
  after_ticks=$(cpu_ticks "$pid")
  [ -n "$line" ] || die "$name: redis-benchmark produced no result"
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  awk -F'","' -v name="$name" -v clients="$clients" -v pipeline="$pipeline" -v n="$n" \
      -v ticks=$(( after_ticks - before_ticks )) -v hz="$clock_ticks" -v wall_ns=$(( end_ns - start_ns )) '
    { gsub(/"/, "", $0); split($0, f, ",")
      cpu = (ticks / hz) / (wall_ns / 1e9) * 100
      cpu_ns_per_op = (ticks / hz) * 1e9 / n   # server CPU per request, whatever the client could send
      printf "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%.1f\t%.1f\n", name, clients, pipeline, n, f[2], f[5], f[7], cpu, cpu_ns_per_op }' \
      <<<"$line" >>"$results"
  tail -1 "$results" | awk -F'\t' '{ printf "  %-24s %12.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %5.1f%%  %7.0f ns/op\n", $1, $5, $6, $7, $8, $9 }' >&2
}

# ---- Redis ------------------------------------------------------------------
echo "compare: starting redis-server ($(redis-server --version | awk '{ print $3 }'))" >&2
redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
  --logfile "$tmp/redis.log" --dir "$tmp" &
redis_pid=$!
wait_for_socket "$tmp/redis.sock" "$redis_pid" redis-server "$tmp/redis.log"
sha=$(redis-cli -s "$tmp/redis.sock" SCRIPT LOAD "$(cat "$here/gcra.lua")")
[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || die "SCRIPT LOAD failed: $sha"
# One call by hand, so a broken script fails here and not as 0 req/s later.
check=$(redis-cli -s "$tmp/redis.sock" EVALSHA "$sha" 1 k:probe 1000000 1000000 1 1 | head -1)
[ "$check" = "1" ] || die "GCRA script did not allow its first call (got: $check)"

# Same limit as tollgate's key class: 1,000,000 per second, burst 1,000,000.
gcra=(EVALSHA "$sha" 1 "k:__rand_int__" 1000000 1000000 1 1)
for p in 1 16 64; do run_case "redis-evalsha-p$p" "$redis_pid" "$tmp/redis.sock" 50 "$p" "${gcra[@]}"; done
for p in 1 16 64; do run_case "redis-incr-p$p" "$redis_pid" "$tmp/redis.sock" 50 "$p" INCR "k:__rand_int__"; done
for p in 1 16 64; do run_case "redis-ping-p$p" "$redis_pid" "$tmp/redis.sock" 50 "$p" PING; done
run_case "redis-ping-1conn" "$redis_pid" "$tmp/redis.sock" 1 1 PING
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=""

# ---- tollgate ---------------------------------------------------------------
# run_tollgate PREFIX BINARY: the tollgate cases on one tollgated binary.
run_tollgate() {
  local prefix=$1 binary=$2
  cat >"$tmp/tollgate.yaml" <<YAML
server:
  socket: $tmp/tollgate.sock
  admin_socket: $tmp/admin.sock
  threads: 2
storage:
  mode: memory
unknown_keys: deny
key_classes:
  - match: "k:*"
    limits:
      - { name: rl, type: token_bucket, rate: 1000000, per: 1s, burst: 1000000 }
YAML
  rm -f "$tmp/tollgate.sock" "$tmp/admin.sock"
  echo "compare: starting $binary" >&2
  "$binary" --config "$tmp/tollgate.yaml" >"$tmp/tollgate.log" 2>&1 &
  tollgate_pid=$!
  wait_for_socket "$tmp/tollgate.sock" "$tollgate_pid" tollgated "$tmp/tollgate.log"
  reply=$(redis-cli -s "$tmp/tollgate.sock" CHECK k:probe | head -2 | tr '\n' ' ')
  [ "$reply" = "1 OK " ] || die "tollgated did not allow CHECK k:probe (got: $reply)"
  for p in 1 16 64; do run_case "$prefix-check-p$p" "$tollgate_pid" "$tmp/tollgate.sock" 50 "$p" CHECK "k:__rand_int__"; done
  for p in 1 16 64; do run_case "$prefix-ping-p$p" "$tollgate_pid" "$tmp/tollgate.sock" 50 "$p" PING; done
  run_case "$prefix-check-1conn" "$tollgate_pid" "$tmp/tollgate.sock" 1 1 CHECK "k:__rand_int__"
  kill "$tollgate_pid"; wait "$tollgate_pid" 2>/dev/null || true; tollgate_pid=""
}
if [ -n "$before_bin" ]; then
  [ -x "$before_bin" ] || die "--before $before_bin: not an executable"
  run_tollgate before "$before_bin"
fi
if [ "$redis_only" -eq 0 ]; then
  run_tollgate tollgate "$tollgated"
fi

mkdir -p "$out_dir"
json="$out_dir/compare-$(date +%Y%m%d-%H%M%S).json"
python3 "$here/compare_report.py" --results "$results" --json "$json" \
  --redis-version "$(redis-server --version | awk '{ print $3 }' | sed 's/^v=//')" \
  --mode "$([ "$quick" -eq 1 ] && echo quick || echo full)"
echo "compare: wrote $json"
