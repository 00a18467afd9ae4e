#!/usr/bin/env bash
# The HTTP front's two benchmarks, each a ratio within one run:
#  1. nginx alone vs nginx + tollgate (auth_request, the documented
#     conf/nginx/*.conf), same nginx, same upstream, wrk, keep-alive:
#     requests/s (target >= 0.7x nginx alone) and the p99 added.
#  2. tollgate's HTTP /v1/check over keep-alive (wrk, one request in flight
#     per connection) vs RESP CHECK (tollgate-load at pipeline 1), same
#     connections, same key.
# Usage: bench/http.sh [--duration 10s] [--connections 50] [--build DIR]
# Needs nginx, wrk (Debian: nginx wrk) and a built tollgated + tollgate-load.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build"
duration=10s
connections=50
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --connections) connections=$2; shift ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "http.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
script_name=http.sh
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
nginx=/usr/sbin/nginx
for tool in "$nginx" wrk redis-cli "$build/tollgated" "$build/tollgate-load"; do
  command -v "$tool" >/dev/null || die "$tool not found (make build; Debian: nginx wrk redis-tools)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-http.XXXXXX")
tollgate_pid=""
nginx_pid=""
cleanup() {
  for pid in $nginx_pid $tollgate_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat >"$tmp/tollgate.yaml" <<YAML
server:
  socket: $tmp/data.sock
  admin_socket: $tmp/admin.sock
  threads: 1
  http: { listen: ["unix:$tmp/http.sock", "127.0.0.1:0"] }
storage: { mode: memory }
unknown_keys: deny
contracts:
  bench0:
    limits:
      - { name: per_second, type: token_bucket, rate: 1000000000, per: 1s, burst: 1000000000 }
YAML
"$build/tollgated" --config "$tmp/tollgate.yaml" >"$tmp/tollgate.log" 2>&1 &
tollgate_pid=$!
wait_for_socket "$tmp/data.sock" "$tollgate_pid" tollgated "$tmp/tollgate.log"
tollgate_http=$(grep -o 'http: listening on 127.0.0.1:[0-9]*' "$tmp/tollgate.log" | awk '{print $4}')

port=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body; proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi; uwsgi_temp_path $tmp/nginx/uwsgi; scgi_temp_path $tmp/nginx/scgi;
  upstream tollgate { server unix:$tmp/http.sock; keepalive 64; }
  upstream app { server unix:$tmp/app.sock; keepalive 64; }
  map \$http_x_api_key \$tollgate_key { default \$http_x_api_key; }
  server {
    listen 127.0.0.1:$port;
    include $root/conf/nginx/tollgate-auth.conf;
    location /alone { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /guarded {
      include $root/conf/nginx/tollgate-protect.conf;
      proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
  server { listen unix:$tmp/app.sock; location / { return 200 "upstream ok\n"; } }
}
NGINX
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/alone" && break; sleep 0.05; done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: bench0" "http://127.0.0.1:$port/guarded")" = 200 ] ||
  die "nginx + tollgate does not answer 200 (log: $(tail -3 "$tmp/nginx/error.log"))"

# wrk_run URL [HEADER]: prints "requests/s p50_ms p99_ms non2xx".
wrk_run() {
  local out
  out=$(wrk -t 2 -c "$connections" -d "$duration" --latency ${2:+-H "$2"} "$1")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}"
}
to_ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'; }

echo "nginx alone vs nginx + tollgate auth_request (wrk -t 2 -c $connections -d $duration, keep-alive, $(nproc) cores)"
read -r alone_rps alone_p50 alone_p99 alone_bad < <(wrk_run "http://127.0.0.1:$port/alone")
read -r guard_rps guard_p50 guard_p99 guard_bad < <(wrk_run "http://127.0.0.1:$port/guarded" "X-Api-Key: bench0")
printf '  %-28s %12s %9s %9s %8s\n' "" "requests/s" "p50 ms" "p99 ms" "non-2xx"
printf '  %-28s %12.0f %9s %9s %8s\n' "nginx alone" "$alone_rps" "$alone_p50" "$alone_p99" "$alone_bad"
printf '  %-28s %12.0f %9s %9s %8s\n' "nginx + tollgate" "$guard_rps" "$guard_p50" "$guard_p99" "$guard_bad"
awk -v a="$alone_rps" -v g="$guard_rps" -v pa="$alone_p99" -v pg="$guard_p99" \
  'BEGIN { printf "  ratio %.2fx of nginx alone (target >= 0.70); p99 added %.3f ms\n", g/a, pg-pa }'

echo
echo "tollgate HTTP /v1/check (keep-alive, 1 in flight per connection) vs RESP CHECK (pipeline 1), $connections connections"
read -r http_rps http_p50 http_p99 http_bad < <(wrk_run "http://$tollgate_http/v1/check" "Tollgate-Key: bench0")
resp=$("$build/tollgate-load" -s "$tmp/data.sock" -c "$connections" -P 1 -t 2 -d "$duration" --keys 1 \
  --key-prefix bench --json -q)
resp_rps=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["throughput_rps"])' <<<"$resp")
printf '  %-28s %12.0f  (p50 %s ms, p99 %s ms, non-2xx %s)\n' "HTTP GET /v1/check" "$http_rps" "$http_p50" "$http_p99" "$http_bad"
resp_p50=$(python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["latency_us"]["p50"]/1000))' <<<"$resp")
resp_p99=$(python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["latency_us"]["p99"]/1000))' <<<"$resp")
printf '  %-28s %12.0f  (p50 %s ms, p99 %s ms)\n' "RESP CHECK" "$resp_rps" "$resp_p50" "$resp_p99"
awk -v h="$http_rps" -v r="$resp_rps" 'BEGIN { printf "  HTTP / RESP = %.2fx\n", h/r }'
