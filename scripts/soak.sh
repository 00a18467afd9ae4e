#!/usr/bin/env bash
# Soak: tollgated under mixed load for a while, watched for growth.
#
#   scripts/soak.sh [SECONDS [SAMPLE_SECONDS]]     (default 3600 s; `make soak`)
#
# Load, all at once for SECONDS:
#   * tollgate-load, open loop (SOAK_RATE req/s, default 5000) CHECK/PEEK on
#     10 000 ip:* keys (all of them live within the first minute), run in segments of SAMPLE_SECONDS: each segment opens
#     and closes its 16 connections (churn) and gives that interval's p99;
#   * scripts/soak_driver.py (redis-py): CHECK ... ID HOLD then SETTLE
#     COMMIT/CANCEL, charging CHECKs, RECHARGE every 2 s, CONTRACT/LEDGER/INFO,
#     a new connection every 50 commands; at the end Σ ledger = balance
#     (CHECK IDs are remembered 10 s here, so that table is full early too);
#   * SIGHUP every 5 s, the config alternating between two limits (a real
#     engine swap each time).
# Every SAMPLE_SECONDS (default 60, or 10 when SECONDS < 600) it records RSS
# (VmRSS), open fds (/proc/PID/fd) and the segment's p99 in
# $SOAK_DIR/samples.csv.
#
# Fails (exit 1) when — comparing the median of the first three samples
# after warm-up (the first fifth of the run, at least one sample) with the
# median of the last three —
#   RSS grew by more than 10 % + 8 MiB, open fds by more than 8, or p99 more
#   than tripled (+1 ms of slack for a shared CI machine);
# or when any load reported error replies or connection errors, the driver
# saw an unexpected reply or Σ ledger ≠ balance, a reload was refused, the
# daemon died, or it did not exit 0 on SIGTERM.
set -euo pipefail

seconds=${1:-3600}
sample=${2:-$([ "$seconds" -lt 600 ] && echo 10 || echo 60)}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
rate=${SOAK_RATE:-5000}
py=${PYTHON:-/usr/bin/python3}  # Debian's, with python3-redis (not a pyenv shim)
dir=${SOAK_DIR:-$(mktemp -d /tmp/tgsoak.XXXXXX)}
mkdir -p "$dir"
[ -x "$build/tollgated" ] && [ -x "$build/tollgate-load" ] || { echo "soak: build first ($build)" >&2; exit 2; }

pids=()
daemon=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null || true
}
trap cleanup EXIT

write_config() {  # $1: the ip:* rate (alternates so that every reload changes the engine)
  cat >"$dir/tollgate.yaml.tmp" <<YAML
server:
  socket: tg.sock
  admin_socket: admin.sock
  threads: 2
  timeout: 60
storage:
  mode: embedded
  dir: state
  checkpoint_ms: 100
  snapshot_interval: 30s
dedup:
  window: 10s
pricing:
  std:
    - { prepay_from: 0, unit_price: 1 }
contracts:
  soak-a:
    pricing: std
    limits:
      - { name: burst, type: token_bucket, rate: 1000000, per: 1s }
      - { name: inflight, type: concurrency, limit: 1000 }
  soak-b:
    pricing: std
    limits:
      - { name: burst, type: token_bucket, rate: 1000000, per: 1s }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: $1, per: 1s, burst: 200 }
YAML
  mv "$dir/tollgate.yaml.tmp" "$dir/tollgate.yaml"
}

write_config 100
"$build/tollgated" --config "$dir/tollgate.yaml" >"$dir/tollgated.log" 2>&1 &
daemon=$!
for _ in $(seq 1 500); do
  [ "$(redis-cli -s "$dir/tg.sock" PING 2>/dev/null)" = PONG ] && break
  kill -0 "$daemon" 2>/dev/null || { cat "$dir/tollgated.log"; echo "soak: tollgated did not start" >&2; exit 1; }
  sleep 0.02
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$daemon/status"; }
fds() { ls "/proc/$daemon/fd" | wc -l; }

# Money and admin traffic for the whole run.
"$py" "$root/scripts/soak_driver.py" --socket "$dir/tg.sock" --admin-socket "$dir/admin.sock" \
  --seconds "$seconds" >"$dir/driver.json" 2>"$dir/driver.err" &
driver=$!
pids+=("$driver")

# Reloads every 5 s, alternating the ip:* rate.
(
  n=0
  while sleep 5; do
    n=$((n + 1))
    write_config $((100 + n % 2))
    kill -HUP "$daemon" 2>/dev/null || exit 0
  done
) &
pids+=($!)

echo "elapsed_s,rss_kib,fds,p99_us,throughput_rps" >"$dir/samples.csv"
echo "soak: ${seconds} s, a sample every ${sample} s, in $dir"
start=$(date +%s)
load_errors=0
while :; do
  now=$(date +%s)
  left=$((start + seconds - now))
  [ "$left" -lt 1 ] && break
  # tollgate-load's open loop ends with a 5 s drain (slots not yet sent at
  # the deadline count as unanswered): load for SAMPLE-5 s so samples come
  # about every SAMPLE s.
  seg=$((sample > 6 ? sample - 5 : sample))
  seg=$((left < seg ? left : seg))
  out=$("$build/tollgate-load" -s "$dir/tg.sock" -c 16 -P 4 --rate "$rate" -d "${seg}s" --command mix \
        -k 10000 --key-prefix ip: --json -q --seed "$now") || { echo "soak: tollgate-load failed" >&2; exit 1; }
  kill -0 "$daemon" 2>/dev/null || { tail -20 "$dir/tollgated.log"; echo "soak: tollgated died" >&2; exit 1; }
  echo "$out" >>"$dir/load.jsonl"
  read -r p99 rps errs <<<"$("$py" -c 'import json,sys; o=json.loads(sys.argv[1]); print(o["latency_us"]["p99"], o["throughput_rps"], o["error_replies"]+o["connection_errors"])' "$out")"
  load_errors=$((load_errors + errs))
  line="$(( $(date +%s) - start )),$(rss_kib),$(fds),$p99,$rps"
  echo "$line" >>"$dir/samples.csv"
  echo "soak: $line"
done

wait "$driver" && driver_ok=1 || driver_ok=0
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done  # no SIGHUP into the shutdown
pids=()
[ "$(redis-cli -s "$dir/tg.sock" PING)" = PONG ] || { echo "soak: no PONG at the end" >&2; exit 1; }
kill -TERM "$daemon"
wait "$daemon" && exit_ok=1 || exit_ok=0
daemon=

"$py" - "$dir" "$load_errors" "$driver_ok" "$exit_ok" <<'PY'
import csv, json, statistics, sys
d, load_errors, driver_ok, exit_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
rows = list(csv.DictReader(open(f"{d}/samples.csv")))
log = open(f"{d}/tollgated.log").read()
driver = open(f"{d}/driver.json").read().strip() or open(f"{d}/driver.err").read()
problems = []
if len(rows) < 2:
    problems.append(f"only {len(rows)} samples")
else:
    warm = max(1, len(rows) // 5)
    base, tail = rows[warm:warm + 3], rows[-3:]
    if warm >= len(rows) - 1:
        base = rows[-2:-1]
    med = lambda rs, k: statistics.median(float(r[k]) for r in rs)
    rss0, rss1 = med(base, "rss_kib"), med(tail, "rss_kib")
    fd0, fd1 = med(base, "fds"), med(tail, "fds")
    p0, p1 = med(base, "p99_us"), med(tail, "p99_us")
    print(f"soak: RSS {rss0/1024:.1f} -> {rss1/1024:.1f} MiB, fds {fd0:.0f} -> {fd1:.0f}, p99 {p0:.0f} -> {p1:.0f} us "
          f"(median of samples {warm}..{warm+len(base)-1} vs the last {len(tail)})")
    if rss1 > rss0 * 1.10 + 8 * 1024: problems.append(f"RSS grew {rss0:.0f} -> {rss1:.0f} KiB")
    if fd1 > fd0 + 8: problems.append(f"open fds grew {fd0:.0f} -> {fd1:.0f}")
    if p1 > 3 * p0 + 1000: problems.append(f"p99 grew {p0:.0f} -> {p1:.0f} us")
reloads = log.count("reload")  # the reloader logs each outcome
refused = [l for l in log.splitlines() if "reload" in l and ("refused" in l or "rejected" in l)]
if refused: problems.append(f"{len(refused)} reloads refused: {refused[0]}")
if load_errors: problems.append(f"{load_errors} error replies/connection errors in tollgate-load")
if not driver_ok: problems.append(f"driver: {driver}")
if not exit_ok: problems.append("tollgated did not exit 0 on SIGTERM")
print(f"soak: driver {driver}")
print(f"soak: {log.count('SIGHUP received')} SIGHUP reloads")
if problems:
    print("soak: FAIL: " + "; ".join(problems))
    sys.exit(1)
print("soak: OK")
PY
