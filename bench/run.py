"""Benchmarks against a real ZooKeeper server, compared with raw kazoo in the same run.

    make bench                      # or: .venv/bin/python bench/run.py [--quick]

Prints ratios (zkservices / raw kazoo) as well as times; machines here are
shared and noisy, so compare ratios from one run, not absolute times across runs.
Each section is a function; ``bench/run.py -k NAME`` runs the sections whose
name contains NAME.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kazoo.client import KazooClient  # noqa: E402

import zkservices  # noqa: E402
from zkservices.testing import ZooKeeperServer, expire_session  # noqa: E402

SECTIONS: list[tuple[str, Callable[..., None]]] = []


def section(fn: Callable[..., None]) -> Callable[..., None]:
    SECTIONS.append((fn.__name__, fn))
    return fn


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def report_latency(label: str, ours: list[float], raw: list[float]) -> None:
    o50, o99, r50, r99 = pct(ours, 50), pct(ours, 99), pct(raw, 50), pct(raw, 99)
    print(f"{label}")
    print(f"  zkservices  p50 {o50 * 1000:7.2f} ms   p99 {o99 * 1000:7.2f} ms   (n={len(ours)})")
    print(f"  raw kazoo   p50 {r50 * 1000:7.2f} ms   p99 {r99 * 1000:7.2f} ms   (n={len(raw)})")
    print(f"  ratio       p50 {o50 / r50:7.2f}x     p99 {o99 / r99:7.2f}x")


def client(cs: str) -> KazooClient:
    c = KazooClient(hosts=cs)
    c.start()
    return c


def measure(changes: int, make_change: Callable[[int], None], seen: threading.Event) -> list[float]:
    """Time from just before each change to the observer's notification."""
    latencies = []
    for i in range(changes):
        seen.clear()
        start = time.perf_counter()
        make_change(i)
        if not seen.wait(10):
            raise RuntimeError(f"change {i} was never seen")
        latencies.append(observed[0] - start)
    return latencies


observed = [0.0]


def _interleave(n: int, run_ours: Callable[[], list[float]], run_raw: Callable[[], list[float]]) -> tuple[list, list]:
    """Alternate rounds so that drift in machine load hits both sides alike."""
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(n):
        ours += run_ours()
        raw += run_raw()
    return ours, raw


@section
def children_latency(cs: str, quick: bool) -> None:
    writer = client(cs)
    writer.ensure_path("/bench/children-ours")
    writer.ensure_path("/bench/children-raw")
    zk = zkservices.ZooKeeper(cs)
    raw = client(cs)
    seen = threading.Event()

    @zk.children("/bench/children-ours")
    def ours_cb(children):
        observed[0] = time.perf_counter()
        seen.set()

    def raw_cb(children):
        observed[0] = time.perf_counter()
        seen.set()

    raw.ChildrenWatch("/bench/children-raw")(raw_cb)
    n = 50 if quick else 200

    def change(base: str) -> Callable[[int], None]:
        state = {"i": 0}

        def make(_: int) -> None:
            state["i"] += 1
            writer.create(f"{base}/c{state['i']}")

        return make

    ours_change, raw_change = change("/bench/children-ours"), change("/bench/children-raw")
    time.sleep(0.2)
    ours, raw_l = _interleave(
        5, lambda: measure(n // 5, ours_change, seen), lambda: measure(n // 5, raw_change, seen)
    )
    report_latency("Children view vs kazoo ChildrenWatch: change (other session) -> callback", ours, raw_l)
    zk.close()
    raw.stop()
    writer.stop()


@section
def properties_latency(cs: str, quick: bool) -> None:
    writer = client(cs)
    writer.ensure_path("/bench/props-ours")
    writer.ensure_path("/bench/props-raw")
    zk = zkservices.ZooKeeper(cs)
    raw = client(cs)
    seen = threading.Event()

    @zk.properties("/bench/props-ours")
    def ours_cb(data):
        observed[0] = time.perf_counter()
        seen.set()

    def raw_cb(data, stat):
        observed[0] = time.perf_counter()
        seen.set()

    raw.DataWatch("/bench/props-raw")(raw_cb)
    n = 50 if quick else 200
    time.sleep(0.2)
    ours, raw_l = _interleave(
        5,
        lambda: measure(n // 5, lambda i: writer.set("/bench/props-ours", b'{"i":%d}' % time.perf_counter_ns()), seen),
        lambda: measure(n // 5, lambda i: writer.set("/bench/props-raw", b'{"i":%d}' % time.perf_counter_ns()), seen),
    )
    report_latency("Properties view vs kazoo DataWatch: change (other session) -> callback", ours, raw_l)
    zk.close()
    raw.stop()
    writer.stop()


@section
def recovery(cs: str, quick: bool) -> None:
    n_regs, n_views = (100, 1000) if not quick else (50, 200)
    setup = client(cs)
    for i in range(n_views):
        setup.ensure_path(f"/bench/recovery/v{i}")
    zk = zkservices.ZooKeeper(cs)
    for i in range(n_regs):
        zk.register_server("/bench/recovery/providers", ("10.0.0.1", 10000 + i))
    views = []
    for i in range(n_views):
        view = zk.properties(f"/bench/recovery/v{i}") if i % 2 else zk.children(f"/bench/recovery/v{i}")
        views.append(view)
    timings = []
    for _ in range(3):
        lost = threading.Event()
        zk.client.add_listener(lambda s: lost.set() if s == "LOST" else None)
        start = time.perf_counter()
        expire_session(zk)  # returns after zk restored registrations and re-armed views
        timings.append(time.perf_counter() - start)
    assert len(setup.get_children("/bench/recovery/providers")) == n_regs

    # raw kazoo doing the same work one call at a time, on a fresh session
    raw = client(cs)
    start = time.perf_counter()
    for i in range(n_regs):
        raw.create(f"/bench/recovery/raw-providers/10.0.0.2:{10000 + i}", b"{}", ephemeral=True, makepath=True)
    for i in range(n_views):
        if i % 2:
            raw.get(f"/bench/recovery/v{i}", watch=lambda e: None)
        else:
            raw.get_children(f"/bench/recovery/v{i}", watch=lambda e: None)
    raw_time = time.perf_counter() - start
    best = min(timings)
    print(f"Recovery after session expiry: {n_regs} registrations restored + {n_views} views re-armed")
    print(f"  zkservices  expiry -> fully recovered: best {best * 1000:7.1f} ms, "
          f"median {statistics.median(timings) * 1000:7.1f} ms (3 runs; includes the expiry itself)")
    print(f"  raw kazoo   same creates + watched reads one at a time: {raw_time * 1000:7.1f} ms")
    print(f"  ratio       {best / raw_time:7.2f}x")
    zk.close()
    raw.stop()
    setup.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("-k", default="", help="run sections whose name contains this")
    parser.add_argument("--connect", help="use this running server instead of starting one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    chosen = [(name, fn) for name, fn in SECTIONS if args.k in name]
    server = None if args.connect else ZooKeeperServer(name="bench").start()
    cs = args.connect or server.connection_string
    try:
        print(f"ZooKeeper at {cs}; python {sys.version.split()[0]}; zkservices {zkservices.__version__}")
        for name, fn in chosen:
            admin = client(cs)
            admin.delete("/bench", recursive=True) if admin.exists("/bench") else None
            admin.stop()
            print()
            fn(cs, args.quick)
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
