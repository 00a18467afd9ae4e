#!/usr/bin/env bash
# What persistence costs, on this machine, in one run: tollgated with
# storage memory, embedded relaxed, embedded strict and redis (a redis-server
# on a temporary socket, started here), each driven by
# tollgate-load (CHECKs that charge a daily quota on 100k random keys, all
# allowed, so every strict reply waits for its checkpoint) at 50 connections
# × pipeline 16, 50 × 1 and 1 × 1. Prints throughput, p50 and p99 per case and
# strict/relaxed, relaxed/memory and redis/memory throughput ratios; writes the same as JSON
# to bench/results/durability-<date>.json.
#
# Usage: bench/durability.sh [--quick] [--build DIR] [--out DIR]
#   --quick   3 s per case instead of 10 s
# Run via `make durability` (builds build/ first).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build"
out_dir="$here/results"
duration=10s
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=3s ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    --out) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "durability: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

script_name=durability
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
for tool in redis-cli redis-server python3; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install redis-server redis-tools python3)"
done
for bin in tollgated tollgate-load; do
  [ -x "$build/$bin" ] || die "$build/$bin not built: run make build"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-durability.XXXXXX")
pid=""
redis_pid=""
cleanup() {
  for p in $pid $redis_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# config MODE DURABILITY: a config on fresh sockets and a fresh storage dir.
config() {
  local dir="$tmp/$1-$2"
  mkdir -p "$dir"
  cat >"$dir/tollgate.yaml" <<YAML
server:
  socket: $dir/data.sock
  admin_socket: $dir/admin.sock
storage:
  mode: $1
  dir: $dir/var
  durability: $2
  checkpoint_ms: 100
  redis:
    socket: $tmp/redis.sock
key_classes:
  - match: "ip:*"
    limits:
      - { name: daily, type: quota, limit: 1000000000, period: day }
YAML
  echo "$dir"
}

results="$tmp/results.jsonl"
: >"$results"
# The Redis the redis mode writes to: no persistence of its own (this measures the daemon's side).
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
redis_pid=$!
wait_for_socket "$tmp/redis.sock" "$redis_pid" redis-server "$tmp/redis.log"

for mode in memory:relaxed embedded:relaxed embedded:strict redis:relaxed; do
  storage=${mode%%:*} durability=${mode##*:}
  dir=$(config "$storage" "$durability")
  "$build/tollgated" --config "$dir/tollgate.yaml" >"$dir/log" 2>&1 &
  pid=$!
  wait_for_socket "$dir/data.sock" "$pid" tollgated "$dir/log"
  for load in 50:16 50:1 1:1; do
    conns=${load%%:*} pipeline=${load##*:}
    echo "durability: $storage/$durability, $conns connections × pipeline $pipeline, $duration" >&2
    json=$("$build/tollgate-load" -s "$dir/data.sock" -c "$conns" -P "$pipeline" -d "$duration" --json -q)
    ckpt=$(redis-cli -s "$dir/data.sock" INFO persistence | awk -F: '/^checkpoints:/ { print $2 }' | tr -d '\r')
    printf '{"storage":"%s","durability":"%s","connections":%s,"pipeline":%s,"checkpoints_so_far":%s,"load":%s}\n' \
      "$storage" "$durability" "$conns" "$pipeline" "${ckpt:-0}" "$json" >>"$results"
  done
  kill "$pid"
  wait "$pid" || true
  pid=""
done

mkdir -p "$out_dir"
out="$out_dir/durability-$(date -u +%Y%m%d-%H%M%S).json"
python3 - "$results" "$out" <<'PY'
import json, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
def find(st, du, c, p):
    for r in rows:
        if (r["storage"], r["durability"], r["connections"], r["pipeline"]) == (st, du, c, p):
            return r["load"]
print(f"{'storage':<10}{'durability':<11}{'conns×pipe':>11}{'calls/s':>12}{'p50 µs':>10}{'p99 µs':>10}{'errors':>8}")
for r in rows:
    l = r["load"]
    errs = l["error_replies"] + l["connection_errors"] + l["unanswered"]
    print(f"{r['storage']:<10}{r['durability']:<11}{str(r['connections'])+'×'+str(r['pipeline']):>11}"
          f"{l['throughput_rps']:>12,.0f}{l['latency_us']['p50']:>10.0f}{l['latency_us']['p99']:>10.0f}{errs:>8}")
ratios = {}
for c, p in [(50, 16), (50, 1), (1, 1)]:
    m, r, s = find("memory", "relaxed", c, p), find("embedded", "relaxed", c, p), find("embedded", "strict", c, p)
    red = find("redis", "relaxed", c, p)
    key = f"{c}x{p}"
    ratios[key] = {"relaxed_over_memory": r["throughput_rps"] / m["throughput_rps"],
                   "strict_over_relaxed": s["throughput_rps"] / r["throughput_rps"],
                   "redis_over_memory": red["throughput_rps"] / m["throughput_rps"]}
    print(f"{key}: relaxed/memory {ratios[key]['relaxed_over_memory']:.2f}, strict/relaxed "
          f"{ratios[key]['strict_over_relaxed']:.2f}, redis/memory {ratios[key]['redis_over_memory']:.2f}")
json.dump({"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "runs": rows, "ratios": ratios},
          open(sys.argv[2], "w"), indent=1)
print(f"written: {sys.argv[2]}")
PY
