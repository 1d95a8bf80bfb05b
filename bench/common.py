"""What every benchmark section shares: the section registry, percentiles, raw
kazoo clients and change -> notification timing (alternating change by change)."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from typing import Any, Callable

from kazoo.client import KazooClient

import zkservices

SECTIONS: list[tuple[str, Callable[..., None]]] = []


def section(fn: Callable[..., None]) -> Callable[..., None]:
    SECTIONS.append((fn.__name__, fn))
    return fn


def heap_per_item(n: int, make_all: Callable[[], list[Any]], settle: Callable[[], None]) -> float:
    """Bytes of Python heap each of the ``n`` objects ``make_all()`` returns holds on to
    (tracemalloc: current after, minus current before, over ``n``), kept alive meanwhile;
    ``settle()`` lets the objects' background work finish, before and after."""
    settle()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make_all()
        settle()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    return (after - before) / n


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


def measure(changes: int, make_change: Callable[[int], None], seen: threading.Event, *, start: int = 0) -> list[float]:
    """Time from just before each change to the observer's notification."""
    latencies = []
    for i in range(start, start + changes):
        seen.clear()
        began = time.perf_counter()
        make_change(i)
        if not seen.wait(10):
            raise RuntimeError(f"change {i} was never seen")
        latencies.append(observed[0] - began)
    return latencies


observed = [0.0]


def alternate(n: int, change_ours: Callable[[int], None], change_raw: Callable[[int], None],
              seen: threading.Event) -> tuple[list[float], list[float]]:
    """``n`` changes each, alternating one by one (and which goes first in each pair):
    drift in the machine's speed hits both sides alike.  (Blocks of 40 changes each
    moved a p50 ratio of ~1.1 anywhere between 1.07 and 1.37 from run to run on this
    machine; one by one, 1.06-1.08.)"""
    ours: list[float] = []
    raw: list[float] = []
    for i in range(n):
        pair = [(ours, change_ours), (raw, change_raw)]
        for into, change in pair if i % 2 == 0 else pair[::-1]:
            into += measure(1, change, seen, start=i)
    return ours, raw


def _compare_latency(cs: str, quick: bool, label: str, kind: str,
                     arm_raw: Callable[[KazooClient, str, Callable[..., None]], None],
                     change: Callable[[KazooClient, str, int], None]) -> None:
    """Change a node from a writer session; time until a zkservices view's
    callback (``kind``: children or properties) and a raw kazoo watch see it."""
    writer = client(cs)
    ours_path, raw_path = f"/bench/{kind}-ours", f"/bench/{kind}-raw"
    writer.ensure_path(ours_path)
    writer.ensure_path(raw_path)
    zk = zkservices.ZooKeeper(cs)
    raw = client(cs)
    seen = threading.Event()

    def noticed(*_: object) -> None:
        observed[0] = time.perf_counter()
        seen.set()

    def noticed_by_view(view: object) -> None:  # one parameter: as a typical user callback
        observed[0] = time.perf_counter()
        seen.set()

    getattr(zk, kind)(ours_path)(noticed_by_view)
    arm_raw(raw, raw_path, noticed)
    n = 50 if quick else 200
    time.sleep(0.2)
    ours, raw_l = alternate(n, lambda i: change(writer, ours_path, i), lambda i: change(writer, raw_path, i), seen)
    report_latency(label, ours, raw_l)
    zk.close()
    raw.stop()
    writer.stop()


#: The goals of issue 12 as measured in this run: (label, measured, goal, met).
GOALS: list[tuple[str, str, str, bool]] = []


def goal(label: str, measured: str, target: str, met: bool) -> None:
    """Record one goal's outcome for the summary ``bench/run.py`` prints at the end."""
    GOALS.append((label, measured, target, met))


def print_goals() -> None:
    if not GOALS:
        return
    width = max(len(label) for label, *_ in GOALS)
    print()
    print("Goals (this run)")
    for label, measured, target, met in GOALS:
        print(f"  {'met ' if met else 'MISS'}  {label:{width}s}  {measured:>14s}  (goal {target})")
