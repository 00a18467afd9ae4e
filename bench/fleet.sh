#!/usr/bin/env bash
# Fleet mode (docs/fleet.md), ratios within one run, one redis-server:
#  1. decisions/s of one daemon with storage.mode memory, then of each of
#     three fleet daemons (fleet:, storage.mode redis) under the same load
#     at the same time, on one hot contract: the fleet daemon's share vs
#     memory (target >= 0.9x), and the p99 each adds;
#  2. Redis commands per 1,000 decisions at steady state (Redis' own
#     total_commands_processed over the run, write-behind included; target
#     <= 10), and the fleet's own count from INFO fleet;
#  3. what users pick today: a Redis round trip per decision (INCR + EXPIRE
#     per hit, the envoyproxy/ratelimit way) with redis-benchmark, same Redis.
# Usage: bench/fleet.sh [--duration 5s] [--connections 20] [--build DIR]
# Needs redis-server, redis-cli, redis-benchmark and a built tollgated + tollgate-load.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build"
duration=5s
connections=20
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --connections) connections=$2; shift ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fleet.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
script_name=fleet.sh
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
for tool in redis-server redis-cli redis-benchmark "$build/tollgated" "$build/tollgate-load"; do
  command -v "$tool" >/dev/null || die "$tool not found (make build; Debian: redis-server redis-tools)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-fleet.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

redis-server --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --port 0 --save '' --appendonly no \
  >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for_socket "$tmp/redis.sock" "${pids[-1]}" redis-server "$tmp/redis.log"

contracts='contracts:
  hot0:
    limits:
      - { name: daily, type: quota, limit: 60000000000, period: day }'

start_daemon() {  # name, storage+fleet yaml
  local name=$1 extra=$2
  mkdir -p "$tmp/$name"
  cat >"$tmp/$name/tollgate.yaml" <<YAML
server:
  socket: $tmp/$name/data.sock
  admin_socket: $tmp/$name/admin.sock
  threads: 1
$extra
$contracts
YAML
  "$build/tollgated" --config "$tmp/$name/tollgate.yaml" >"$tmp/$name/log" 2>&1 &
  pids+=($!)
  wait_for_socket "$tmp/$name/data.sock" "${pids[-1]}" "tollgated ($name)" "$tmp/$name/log"
}

load() {  # socket -> JSON
  "$build/tollgate-load" -s "$1" -c "$connections" -P 16 -d "$duration" -k 1 --key-prefix hot --json -q
}
field() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

echo "== 1. one daemon, storage.mode memory ($duration, $connections connections x pipeline 16)"
start_daemon memory "storage: { mode: memory }"
load "$tmp/memory/data.sock" >"$tmp/memory.json"
mem_rps=$(field "$tmp/memory.json" "round(d['throughput_rps'])")
mem_p99=$(field "$tmp/memory.json" "d['latency_us']['p99']")
echo "memory: $mem_rps decisions/s, p99 $mem_p99 us"
kill "${pids[-1]}"

echo "== 1. three fleet daemons on one Redis"
for n in a b c; do
  start_daemon "fleet-$n" "storage: { mode: redis, checkpoint_ms: 100, redis: { socket: $tmp/redis.sock } }
fleet: { node: bench-$n, lease_ttl: 10s, refill_ms: 50 }"
done
echo "== 1. the same load on fleet-a alone (fleet-b and fleet-c live in the fleet, idle)"
load "$tmp/fleet-a/data.sock" >"$tmp/alone.json"
alone_rps=$(field "$tmp/alone.json" "round(d['throughput_rps'])")
alone_p99=$(field "$tmp/alone.json" "d['latency_us']['p99']")
alone_allowed=$(field "$tmp/alone.json" "d['allowed']")
alone_replies=$(field "$tmp/alone.json" "d['replies']")
echo "fleet-a alone: $alone_rps decisions/s ($alone_allowed of $alone_replies allowed), p99 $alone_p99 us:" \
  "$(python3 -c "print(f'{$alone_rps/$mem_rps:.2f}x memory, p99 {100*($alone_p99/$mem_p99-1):+.0f} %')")"
echo "== 1. the same load on each of the three at once"
redis_before=$(redis-cli -s "$tmp/redis.sock" INFO stats | awk -F: '/^total_commands_processed/ { print $2 }' | tr -d '\r')
load_pids=()
for n in a b c; do
  load "$tmp/fleet-$n/data.sock" >"$tmp/fleet-$n.json" &
  load_pids+=($!)
done
for pid in "${load_pids[@]}"; do wait "$pid"; done
redis_after=$(redis-cli -s "$tmp/redis.sock" INFO stats | awk -F: '/^total_commands_processed/ { print $2 }' | tr -d '\r')
total=0
for n in a b c; do
  rps=$(field "$tmp/fleet-$n.json" "round(d['throughput_rps'])")
  p99=$(field "$tmp/fleet-$n.json" "d['latency_us']['p99']")
  replies=$(field "$tmp/fleet-$n.json" "d['replies']")
  allowed=$(field "$tmp/fleet-$n.json" "d['allowed']")
  total=$((total + replies))
  echo "fleet-$n: $rps decisions/s ($allowed allowed), p99 $p99 us, $(python3 -c "print(f'{$rps/$mem_rps:.2f}')")x memory"
done
commands=$((redis_after - redis_before))
echo "all three: $total decisions in $duration, $(python3 -c "print(f'{($total/${duration%s})/$mem_rps:.2f}')")x the memory daemon's decisions/s"
echo "== 2. Redis commands: $commands for $total decisions = $(python3 -c "print(f'{1000*$commands/$total:.3f}')") per 1,000 decisions (all daemons, write-behind included)"
for n in a b c; do
  redis-cli -s "$tmp/fleet-$n/admin.sock" INFO fleet | grep -E 'fleet_(commands_per_1000|refill_p50|refill_p99|syncs|live_nodes)' | tr -d '\r' | sed "s/^/fleet-$n /"
done

echo "== 3. a Redis round trip per decision (INCR + EXPIRE per hit), redis-benchmark, same Redis, $connections clients"
rps_of() { grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1; }
incr=$(redis-benchmark -s "$tmp/redis.sock" -c "$connections" -n 100000 -q INCR rl:hot | rps_of)
expire=$(redis-benchmark -s "$tmp/redis.sock" -c "$connections" -n 100000 -q EXPIRE rl:hot 60 | rps_of)
echo "INCR: $incr/s, EXPIRE: $expire/s -> $(python3 -c "print(round(1/(1/$incr+1/$expire)))") decisions/s at 2 Redis commands (2,000 per 1,000 decisions)"
