#!/usr/bin/env python3
"""Turns bench/compare.sh results into one table and one JSON file.

Input: a TSV with one line per case:
  name, clients, pipeline, requests, rps, p50_ms, p99_ms, server_cpu_pct, server_cpu_ns_per_op
Output: the table on stdout (machine, date, cases, ratios) and the same data
as JSON at --json. Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import sys

# (label, numerator case, denominator case, field, issue 16 target or None).
# A target "<= x" is met when the ratio is at most x, ">= x" when at least x.
RATIOS = [
    ("tollgate CHECK / Redis EVALSHA (p16, req/s)", "tollgate-check-p16", "redis-evalsha-p16", "rps", None),
    ("tollgate CHECK / Redis PING (p64, req/s)", "tollgate-check-p64", "redis-ping-p64", "rps", ">= 1.0"),
    ("tollgate PING / Redis PING (p64, req/s)", "tollgate-ping-p64", "redis-ping-p64", "rps", None),
    ("tollgate CHECK / Redis PING (1 conn, p50 latency)", "tollgate-check-1conn", "redis-ping-1conn", "p50_us", None),
    # Server CPU per request, whatever the client could send.
    ("tollgate CHECK / tollgate PING (p64, server CPU per op)", "tollgate-check-p64", "tollgate-ping-p64", "cpu_ns_per_op", "<= 2.5"),
    ("tollgate CHECK / tollgate PING (p16, server CPU per op)", "tollgate-check-p16", "tollgate-ping-p16", "cpu_ns_per_op", None),
    ("tollgate CHECK / tollgate PING (p1, server CPU per op)", "tollgate-check-p1", "tollgate-ping-p1", "cpu_ns_per_op", None),
    ("tollgate CHECK / Redis PING (p1, server CPU per op)", "tollgate-check-p1", "redis-ping-p1", "cpu_ns_per_op", "<= 1.0"),
    ("tollgate CHECK / Redis PING (p64, server CPU per op)", "tollgate-check-p64", "redis-ping-p64", "cpu_ns_per_op", None),
    ("tollgate CHECK / Redis EVALSHA (p16, server CPU per op)", "tollgate-check-p16", "redis-evalsha-p16", "cpu_ns_per_op", None),
    # With --before: the older binary's figures in the same run.
    ("before CHECK / before PING (p64, server CPU per op)", "before-check-p64", "before-ping-p64", "cpu_ns_per_op", "<= 2.5"),
    ("before CHECK / Redis PING (p64, req/s)", "before-check-p64", "redis-ping-p64", "rps", ">= 1.0"),
    ("before CHECK / Redis PING (p1, server CPU per op)", "before-check-p1", "redis-ping-p1", "cpu_ns_per_op", "<= 1.0"),
    ("tollgate CHECK / before CHECK (p64, server CPU per op)", "tollgate-check-p64", "before-check-p64", "cpu_ns_per_op", None),
    ("tollgate CHECK / before CHECK (p16, server CPU per op)", "tollgate-check-p16", "before-check-p16", "cpu_ns_per_op", None),
    ("tollgate CHECK / before CHECK (p1, server CPU per op)", "tollgate-check-p1", "before-check-p1", "cpu_ns_per_op", None),
]


def met(value, target):
    if value is None or target is None:
        return None
    op, bound = target.split()
    return value <= float(bound) if op == "<=" else value >= float(bound)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_cases(path):
    cases = []
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                continue
            name, clients, pipeline, requests, rps, p50, p99, cpu, cpu_ns = fields
            cases.append({
                "case": name,
                "server": name.split("-", 1)[0],
                "clients": int(clients),
                "pipeline": int(pipeline),
                "requests": int(requests),
                "rps": round(float(rps), 1),
                "p50_us": round(float(p50) * 1000, 1),
                "p99_us": round(float(p99) * 1000, 1),
                "server_cpu_pct": round(float(cpu), 1),
                "cpu_ns_per_op": round(float(cpu_ns), 1),
            })
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--redis-version", default="")
    parser.add_argument("--mode", default="full")
    args = parser.parse_args()

    cases = read_cases(args.results)
    by_name = {c["case"]: c for c in cases}
    ratios = []
    for label, num, den, field, target in RATIOS:
        if num not in by_name or den not in by_name:
            continue  # a case this run did not include (--redis-only, no --before)
        value = None
        if by_name[den][field]:
            value = round(by_name[num][field] / by_name[den][field], 3)
        ratios.append({"ratio": label, "numerator": num, "denominator": den, "field": field, "value": value,
                       "target": target, "met": met(value, target)})

    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "kernel": platform.release(),
                    # Other work on the machine skews every figure; keep the evidence.
                    "loadavg_1m_at_end": round(os.getloadavg()[0], 2)},
        "client": "redis-benchmark, -r 100000 random keys",
        "redis_version": args.redis_version,
        "mode": args.mode,
        "cases": cases,
        "ratios": ratios,
    }

    m = report["machine"]
    print(f"\ntollgate vs Redis — {report['date']} — {m['nproc']} CPUs, {m['cpu_model']}, "
          f"Redis {args.redis_version}, {args.mode} run, load average {m['loadavg_1m_at_end']}")
    print(f"{'case':<24} {'conns':>5} {'pipe':>4} {'requests/s':>12} {'p50 µs':>9} {'p99 µs':>9} {'server CPU':>10} {'CPU ns/op':>10}")
    for c in cases:
        print(f"{c['case']:<24} {c['clients']:>5} {c['pipeline']:>4} {c['rps']:>12,.0f} {c['p50_us']:>9.1f} "
              f"{c['p99_us']:>9.1f} {c['server_cpu_pct']:>9.1f}% {c['cpu_ns_per_op']:>10,.0f}")
    print()
    for r in ratios:
        shown = "n/a" if r["value"] is None else f"{r['value']:.3f}"
        verdict = ""
        if r["target"] is not None:
            verdict = f"  target {r['target']}: " + ("n/a" if r["met"] is None else "met" if r["met"] else "NOT met")
        print(f"{r['ratio']:<58} {shown:>7}{verdict}")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
