# Shell helpers shared by the benchmark scripts (sourced; set script_name first).

die() { echo "$script_name: $*" >&2; exit 1; }

# wait_for_socket PATH PID NAME LOG: poll up to 10 s for a server answering PING.
wait_for_socket() {
  local path=$1 pid=$2 name=$3 log=$4
  for _ in $(seq 1 100); do
    if [ -S "$path" ] && redis-cli -s "$path" PING >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$script_name: $name exited during start-up; its log:" >&2
      tail -20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  die "$name did not open $path within 10 s (log: $log)"
}

# cpu_ticks PID: utime + stime of the process, in clock ticks.
cpu_ticks() {
  # Fields after the parenthesised command name; utime and stime are 14 and 15.
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}
