"""Growth curves: how one zkservices session's costs grow with what it holds (issue 23, item 3).

    make bench-growth                       # sizes 10 to 10,000 (about 5 minutes on 2 cores)
    make bench-growth GROWTH_MAX=100000     # and 100,000 views and children (about 15 minutes more)
    .venv/bin/python bench/growth.py --max 10000 [--curves views] [--profile views:1000]

Three curves against one real ZooKeeper server (zkservices.testing.ZooKeeperServer),
each over sizes 10, 100, 1,000, 10,000 and (views, children) 100,000, capped by
``--max``.  Every size runs in a Python process of its own (bench/growth_step.py:
one zkservices session under test plus a kazoo writer session), so its RSS and
heap start clean:

1. registrations per session: ``register_server()`` N times (one providers node,
   N addresses).  Time to register them all; then a real session expiry
   (``zkservices.testing.expire_session``: a second client takes the session over
   and closes it) and the time until the writer sees all N nodes again, owned by
   the new session.
2. views per session: N ``providers()`` views, each of an empty node of its own.
   Time to open them; change latency (the writer adds a provider under one of
   20 sampled views -> that view's callback, median of 20); a dropped connection
   (``drop_connection``) and an expiry, each while the writer adds a provider
   under the 20 sampled nodes: the time until the session is back and the
   sampled views hold the new providers (and, at the end, every other view is
   still right).
3. children per view: one ``providers()`` view over N providers.  Initial read
   time; change latency for an add, an update and a remove (median of 10 each;
   the table's latency is the worst of the three); an expiry while the writer
   adds, updates and removes providers, until the view shows all of it.

Times are wall clock from just before the call or the fault (the expiry time
includes the expiry itself: a second session's connect and close).  Memory per
item: the process's RSS growth over the timed pass / N, and the Python heap
(tracemalloc) an item holds in a second, traced pass on a fresh session.  For
each curve, a line on how the time per item grows from one size to the next:
the ratio ~1 is linear; more than 1.25 x the n log n ratio (log 10n / log n) is
flagged as a bend.  A size whose memory, extrapolated from the size before it,
would pass ``--memory-limit`` (GB, the step process and the server) is not run,
and the line says so.  ``--profile CURVE:N`` runs that one step under cProfile
(every thread) and prints the top functions by cumulative and by own time.
``--json-to FILE`` writes the rows as JSON (the smoke test reads it).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from kazoo.client import KazooClient  # noqa: E402

import zkservices  # noqa: E402
from zkservices.testing import ZooKeeperServer  # noqa: E402

BASE = "/bench-growth"
SIZES = {"registrations": [10, 100, 1000, 10_000],
         "views": [10, 100, 1000, 10_000, 100_000],
         "children": [10, 100, 1000, 10_000, 100_000]}
TITLES = {"registrations": "Registrations per session (register_server)",
          "views": "Views per session (providers() of empty nodes)",
          "children": "Children per view (one providers() view)"}
#: per curve: (column title, row key, scale, format) -- times in ms, memory in bytes
COLUMNS: dict[str, list[tuple[str, str, float, str]]] = {
    "registrations": [("open s", "open_s", 1, ".3f"), ("open us/item", "open_per", 1e6, ".1f"), ("gc s", "gc_s", 1, ".3f"),
                      ("heap B/item", "heap_per_item", 1, ".0f"), ("RSS B/item", "rss_per_item", 1, ".0f"),
                      ("expiry->back s", "expiry_s", 1, ".3f"), ("new session->done s", "expiry_session_s", 1, ".3f"),
                      ("expiry us/item", "expiry_per", 1e6, ".1f")],
    "views": [("open s", "open_s", 1, ".3f"), ("open us/item", "open_per", 1e6, ".1f"), ("gc s", "gc_s", 1, ".3f"),
              ("heap B/item", "heap_per_item", 1, ".0f"), ("RSS B/item", "rss_per_item", 1, ".0f"),
              ("latency ms", "latency_s", 1e3, ".2f"), ("drop->current s", "drop_s", 1, ".3f"),
              ("expiry->current s", "expiry_s", 1, ".3f"), ("expiry us/item", "expiry_per", 1e6, ".1f")],
    "children": [("read s", "open_s", 1, ".3f"), ("read us/item", "open_per", 1e6, ".1f"), ("gc s", "gc_s", 1, ".3f"),
                 ("heap B/item", "heap_per_item", 1, ".0f"), ("RSS B/item", "rss_per_item", 1, ".0f"),
                 ("add ms", "latency_add_s", 1e3, ".2f"), ("update ms", "latency_update_s", 1e3, ".2f"),
                 ("remove ms", "latency_remove_s", 1e3, ".2f"), ("expiry->current s", "expiry_s", 1, ".3f"),
                 ("expiry us/item", "expiry_per", 1e6, ".1f")],
}
#: the time per item whose growth each curve's verdict reads
GROWTH_KEYS = {"registrations": ["open_s", "expiry_s"], "views": ["open_s", "drop_s", "expiry_s"],
               "children": ["open_s", "expiry_s", "latency_s"]}
GOAL_VIEW_BYTES = 2048


def statm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def run_step(curve: str, n: int, cs: str, limit: int, server_pid: int | None,
             profile: str | None) -> tuple[dict[str, Any] | None, str]:
    """The step's row, or None and why it failed.  Killed when it and the server pass ``limit``."""
    command = [sys.executable, os.path.join(HERE, "growth_step.py"), curve, str(n), cs]
    if profile:
        command += ["--profile", profile]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: list[int] = []

    def watch() -> None:
        while process.poll() is None:
            used = statm_rss(process.pid) + (statm_rss(server_pid) if server_pid else 0)
            if used > limit:
                killed.append(used)
                process.kill()
                return
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()
    out, err = process.communicate()
    if killed:
        return None, f"killed at {killed[0] / 2**30:.2f} GB (client + server RSS) > --memory-limit"
    if process.returncode != 0:
        return None, f"exit {process.returncode}: {(err or out).strip().splitlines()[-1:]}"
    return json.loads(out.strip().splitlines()[-1]), ""


def clean(writer: KazooClient, path: str) -> None:
    """Delete ``path`` and everything below it (deepest first, pipelined)."""
    if not writer.exists(path):
        return
    level = [path]
    levels = []
    while level:
        levels.append(level)
        pending = [(p, writer.get_children_async(p)) for p in level]
        level = [f"{p}/{c}" for p, result in pending for c in result.get()]
    for level in reversed(levels):
        for start in range(0, len(level), 2000):
            for result in [writer.delete_async(p) for p in level[start:start + 2000]]:
                result.get()


def growth_verdict(rows: list[dict[str, Any]], key: str) -> str:
    """How the time per item for ``key`` grows between consecutive sizes."""
    parts, bends = [], []
    for a, b in zip(rows, rows[1:]):
        if not (a.get(key) and b.get(key)) or a[key] != a[key] or b[key] != b[key]:
            continue
        per_a, per_b = a[key] / a["n"], b[key] / b["n"]
        if key == "latency_s":  # a latency is per change, not per item: compare the latencies
            per_a, per_b = a[key], b[key]
        ratio = per_b / per_a
        nlogn = math.log(b["n"]) / math.log(a["n"]) if key != "latency_s" else 1.0
        flag = ""
        if ratio > 1.25 * nlogn:
            flag = " BENDS"
            bends.append(f"{a['n']:,}->{b['n']:,}")
        bound = "constant" if key == "latency_s" else "n log n"
        parts.append(f"{a['n']:,}->{b['n']:,} x{ratio:.2f} ({bound} x{nlogn:.2f}){flag}")
    what = "" if key == "latency_s" else " time per item"
    verdict = f"bends at {', '.join(bends)}" if bends else "no worse than n log n"
    return f"  growth of {key[:-2]}{what}: " + "; ".join(parts) + f"  => {verdict}"


def print_curve(curve: str, rows: list[dict[str, Any]], stopped: str) -> None:
    columns = [("size", "n", 1, ",")] + COLUMNS[curve]
    table = []
    for row in rows:
        cells = []
        for _, key, scale, spec in columns:
            value = row.get(key)
            cells.append("-" if value is None or value != value else format(value * scale if scale != 1 else value,
                                                                              spec))
        table.append(cells)
    widths = [max(len(title), *(len(r[i]) for r in table)) for i, (title, *_) in enumerate(columns)]
    print(TITLES[curve])
    print("  " + "  ".join(title.rjust(w) for (title, *_), w in zip(columns, widths)))
    for cells in table:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    for key in GROWTH_KEYS[curve]:
        print(growth_verdict(rows, key))
    if curve == "views" and rows:  # at the largest size: at 10 views, one-time costs still weigh
        heap = rows[-1]["heap_per_item"]
        print(f"  goal heap per view <= {GOAL_VIEW_BYTES / 1024:.0f} KiB: "
              f"{'met' if heap <= GOAL_VIEW_BYTES else 'NOT met'} ({heap / 1024:.2f} KiB at {rows[-1]['n']:,} views)")
    if stopped:
        print(f"  stopped: {stopped}")
    print(flush=True)


def print_profile(path: str, lines: int = 25) -> None:
    stats = pstats.Stats(path)
    stats.strip_dirs()
    for order in ("cumulative", "tottime"):
        print(f"--- profile, by {order} ---")
        stats.sort_stats(order).print_stats(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max", type=int, default=int(os.environ.get("GROWTH_MAX") or 10_000),
                        help="the largest size (10000)")
    parser.add_argument("--curves", default="registrations,views,children", help="which curves")
    parser.add_argument("--sizes", help="these sizes instead of 10, 100, ... (comma separated)")
    parser.add_argument("--memory-limit", type=float, default=6.0, help="GB for a step process and the server (6)")
    parser.add_argument("--profile", help="CURVE:N: run that step alone under cProfile and print the top")
    parser.add_argument("--profile-to", help="with --profile: keep the pstats file here")
    parser.add_argument("--connect", help="a running server (host:port) instead of starting one")
    parser.add_argument("--json-to", help="also write the rows to this file as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("zkservices.server").setLevel(logging.CRITICAL)
    server = None if args.connect else ZooKeeperServer(name="bench-growth").start()
    cs = args.connect if server is None else server.connection_string
    server_pid = server._process.pid if server is not None and server._process else None
    limit = int(args.memory_limit * 2**30)
    out: list[dict[str, Any]] = []
    writer = KazooClient(hosts=cs, timeout=30)
    writer.start()
    try:
        print(f"ZooKeeper at {cs}; python {sys.version.split()[0]}; zkservices {zkservices.__version__}; "
              f"largest size {args.max:,}", flush=True)
        clean(writer, BASE)
        if args.profile:
            curve, _, size = args.profile.partition(":")
            with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
                stats = args.profile_to or os.path.join(tmp, "profile")
                row, why = run_step(curve, int(size), cs, limit, server_pid, stats)
                if row is None:
                    raise SystemExit(f"{curve} at {size}: {why}")
                out.append(row)
                print_curve(curve, [row], "")
                print_profile(stats)
        for curve in ([] if args.profile else args.curves.split(",")):
            sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else SIZES[curve]
            rows: list[dict[str, Any]] = []
            stopped = ""
            for n in sizes:
                if n > args.max:
                    stopped = f"at {rows[-1]['n'] if rows else 0:,}: --max {args.max:,}" if n <= SIZES[curve][-1] else ""
                    break
                if rows:  # memory extrapolated from the size before: linear in n
                    last = rows[-1]
                    predicted = last["peak_rss"] * n / last["n"] + (statm_rss(server_pid) if server_pid else 0)
                    if predicted > limit:
                        stopped = (f"before {n:,}: {predicted / 2**30:.1f} GB predicted (peak RSS "
                                   f"{last['peak_rss'] / 2**20:.0f} MiB at {last['n']:,}) > --memory-limit")
                        break
                print(f"  {curve} {n:,} ...", flush=True)
                started = time.monotonic()
                row, why = run_step(curve, n, cs, limit, server_pid, None)
                clean(writer, BASE)
                if row is None:
                    stopped = f"at {n:,}: {why}"
                    break
                for key in ("open_s", "expiry_s"):
                    row[key.replace("_s", "_per")] = row[key] / n
                row["step_s"] = time.monotonic() - started
                rows.append(row)
                out.append(row)
            print()
            print_curve(curve, rows, stopped)
        if args.json_to:
            with open(args.json_to, "w", encoding="utf-8") as f:
                json.dump(out, f, indent=1)
    finally:
        writer.stop()
        writer.close()
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
