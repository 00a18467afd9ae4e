#!/usr/bin/env python3
"""The room-to-room include graph of the daemon, and the rules it must keep.

A room is a folder of daemon/ (daemon/engine/limits belongs to `engine`);
persist/ has three rooms of its own below it (persist/files,
persist/embedded, persist/redis) besides the shared `persist`. The public
headers in include/tollgate/ are the room `tollgate`. Every
`#include "..."` that names a file of another room is an arrow.

Rules (docs/architecture.md, "Rooms"):
  * no cycle between rooms;
  * engine/ includes no config/, net/, resp/, commands/, control/, persist*,
    fronts/, calllog/, app/ (the engine is below all of them);
  * monitor/ (the monitors' pure logic) includes only engine/ and tollgate;
  * nothing includes app/ (it is the wiring at the top).

  scripts/room_graph.py                 print the graph (markdown list)
  scripts/room_graph.py --write FILE    replace the block between the
                                        room-graph markers in FILE
  scripts/room_graph.py --check FILE    exit 1 if a rule is broken or the
                                        block in FILE is not the graph of
                                        the tree (the ctest `room_graph`)
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DAEMON = os.path.join(ROOT, "daemon")
PUBLIC = os.path.join(ROOT, "include")
SPLIT_ROOMS = {"persist"}  # rooms whose sub-folders are rooms of their own
BEGIN = "<!-- room-graph:begin (scripts/room_graph.py --write docs/architecture.md) -->"
END = "<!-- room-graph:end -->"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ENGINE_MAY_NOT = ("config", "net", "resp", "commands", "control", "persist", "fronts", "calllog", "app", "monitor")
MONITOR_MAY = ("engine", "tollgate")


def room_of(path):
    """The room of a file (absolute path), or None outside the daemon."""
    if path.startswith(PUBLIC + os.sep):
        return "tollgate"
    if not path.startswith(DAEMON + os.sep):
        return None
    parts = os.path.relpath(path, DAEMON).split(os.sep)
    if len(parts) == 1:
        return "app"  # daemon/main.cc
    if parts[0] in SPLIT_ROOMS and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    return parts[0]


def resolve(including_file, name):
    for base in (os.path.dirname(including_file), DAEMON, PUBLIC):
        candidate = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(candidate):
            return candidate
    return None


def graph():
    edges = {}
    unresolved = []
    for top in (DAEMON, PUBLIC):
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                if not f.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, f)
                src = room_of(path)
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                for name in INCLUDE.findall(text):
                    target = resolve(path, name)
                    if target is None:
                        unresolved.append(f"{os.path.relpath(path, ROOT)}: \"{name}\"")
                        continue
                    dst = room_of(target)
                    edges.setdefault(src, set())
                    if dst is not None and dst != src:
                        edges[src].add(dst)
    return edges, unresolved


def cycles(edges):
    """Every room that lies on a cycle, as a list of cycles found by DFS."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def violations(edges, unresolved):
    out = [f"unresolved include {u}" for u in unresolved]
    for c in cycles(edges):
        out.append("include cycle: " + " → ".join(c))
    for dst in sorted(edges.get("engine", ())):
        if dst.split("/")[0] in ENGINE_MAY_NOT:
            out.append(f"engine/ includes {dst}/ (the engine is below it)")
    for dst in sorted(edges.get("monitor", ())):
        if dst not in MONITOR_MAY:
            out.append(f"monitor/ includes {dst}/ (monitors are pure logic over the engine)")
    for src in sorted(edges):
        if "app" in edges[src]:
            out.append(f"{src}/ includes app/ (app is the wiring at the top)")
    return out


def render(edges):
    lines = [BEGIN, "```"]
    for src in sorted(edges):
        dsts = sorted(edges[src])
        lines.append(f"{src:<16} → {', '.join(dsts) if dsts else '(nothing)'}")
    lines += ["```", END]
    return "\n".join(lines)


def main(argv):
    edges, unresolved = graph()
    block = render(edges)
    problems = violations(edges, unresolved)
    if len(argv) == 1:
        print(block)
        for p in problems:
            print("room_graph: " + p, file=sys.stderr)
        return 1 if problems else 0
    if len(argv) != 3 or argv[1] not in ("--write", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    doc = argv[2]
    with open(doc, encoding="utf-8") as fh:
        text = fh.read()
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        print(f"room_graph: {doc} has no room-graph markers", file=sys.stderr)
        return 1
    current = text[start:stop + len(END)]
    if argv[1] == "--write":
        with open(doc, "w", encoding="utf-8") as fh:
            fh.write(text[:start] + block + text[stop + len(END):])
    elif current != block:
        problems.append(f"{doc} shows an old room graph: run scripts/room_graph.py --write {doc}")
        print(block, file=sys.stderr)
    for p in problems:
        print("room_graph: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
