#!/usr/bin/env python3
"""What storage.redis.wait_replicas costs per write (docs/redis.md).

Starts a primary and one replica (redis-server, free loopback ports, a
temporary directory) and times, in the same run, a write-behind-sized write
(HINCRBY) alone and followed by WAIT 1 <timeout> on the same connection, as
RedisTarget::send_replicated does. Prints median and p99 per mode, alternating
the modes so that machine noise hits both. Usage: bench/redis_wait.py [writes]
"""
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis  # python3-redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port, directory, *extra):
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", directory, "--repl-diskless-sync-delay", "0", *extra],
                            stdout=subprocess.DEVNULL)


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except redis.exceptions.ConnectionError:
            pass
        time.sleep(0.01)
    return False


def run(r, wait, writes):
    latencies = []
    missed = 0
    for _ in range(writes):
        start_at = time.perf_counter()
        p = r.pipeline(transaction=False)
        p.hincrby("tollgate:k:bench", "daily|q|1", 1)
        if wait:
            p.execute_command("WAIT", 1, 100)
        replies = p.execute()
        latencies.append((time.perf_counter() - start_at) * 1e6)
        missed += 1 if wait and replies[1] != 1 else 0
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99)], missed


def main():
    writes = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as directory:
        p0, p1 = free_port(), free_port()
        procs = [start(p0, directory), start(p1, directory, "--replicaof", "127.0.0.1", str(p0))]
        try:
            r = redis.Redis(port=p0)
            if not wait_for(lambda: r.info("replication")["connected_slaves"] == 1):
                raise SystemExit("the replica did not connect")
            results = {0: [], 1: []}
            for wait in (0, 1, 0, 1):
                results[wait].append(run(r, wait, writes))
            for wait, runs in results.items():
                print(f"wait_replicas={wait}: " + "; ".join(
                    f"median {m:.0f} us, p99 {p:.0f} us" + (f", {x} not acknowledged within 100 ms" if wait else "")
                    for m, p, x in runs))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
