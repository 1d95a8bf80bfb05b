"""Python heap per view (tracemalloc) against raw kazoo watches doing the same."""

from __future__ import annotations

from typing import Any, Callable

from kazoo.client import KazooClient

import zkservices
from common import client, goal, heap_per_item, section

GOAL_KIB = 2.0  # per Properties view (issue 12)


def _make_nodes(setup: KazooClient, base: str, n: int, data: Callable[[int], bytes]) -> list[str]:
    setup.ensure_path(base)
    paths = [f"{base}/n{i}" for i in range(n)]
    for start in range(0, n, 500):
        transaction = setup.transaction()
        for i in range(start, min(n, start + 500)):
            transaction.create(paths[i], data(i))
        assert not any(isinstance(r, Exception) for r in transaction.commit())
    return paths


def _heap_per(n: int, make: Callable[[str], Any], paths: list[str], settle: Callable[[], None]) -> float:
    """Bytes of Python heap each of ``n`` objects made by ``make(path)`` holds on to,
    after a warm-up of ten (one-time costs -- caches, first thread -- are not per view)."""
    for path in paths[:10]:
        make(path)
    return heap_per_item(n, lambda: [make(path) for path in paths[10:10 + n]], settle)


@section
def memory(cs: str, quick: bool) -> None:
    """1,000 views in one process: Python heap per view beside a raw kazoo watch per node."""
    n = 200 if quick else 1000
    setup = client(cs)
    props = _make_nodes(setup, "/bench/memory/props", n + 10,
                        lambda i: b'{"host":"10.0.0.%d","port":%d,"weight":1}' % (i % 250, 8000 + i))
    kids = _make_nodes(setup, "/bench/memory/kids", n + 10, lambda i: b"")
    for path in kids[:10] + kids[10:10 + n:10]:  # a few children under every tenth node
        for c in range(5):
            setup.create(f"{path}/c{c}")

    def noop(*_: object) -> None:
        pass

    rows: list[tuple[str, float]] = []

    def ours(label: str, fn: Callable[[zkservices.ZooKeeper, str], Any], paths: list[str]) -> float:
        zk = zkservices.ZooKeeper(cs)
        try:
            per = _heap_per(n, lambda p: fn(zk, p), paths, lambda: zk.core.worker.barrier())
        finally:
            zk.close()
        rows.append((label, per))
        return per

    def raw(label: str, fn: Callable[[KazooClient, str], Any], paths: list[str]) -> float:
        kz = client(cs)
        try:
            per = _heap_per(n, lambda p: fn(kz, p), paths, lambda: kz.sync("/"))
        finally:
            kz.stop()
            kz.close()
        rows.append((label, per))
        return per

    prop = ours("zkservices Properties view", lambda zk, p: zk.properties(p), props)
    prop_cb = ours("zkservices Properties view + callback", lambda zk, p: zk.properties(p)(noop), props)
    data_watch = raw("raw kazoo DataWatch + callback", lambda kz, p: kz.DataWatch(p)(noop), props)
    kid = ours("zkservices Children view", lambda zk, p: zk.children(p), kids)
    kid_cb = ours("zkservices Children view + callback", lambda zk, p: zk.children(p)(noop), kids)
    children_watch = raw("raw kazoo ChildrenWatch + callback", lambda kz, p: kz.ChildrenWatch(p)(noop), kids)
    print(f"Memory: Python heap per view, {n:,} views in one process (tracemalloc; each view/watch on a node of its own)")
    for label, per in rows:
        print(f"  {label:40s} {per / 1024:6.2f} KiB")
    print(f"  ratio       Properties view + callback / DataWatch {prop_cb / data_watch:5.2f}x; "
          f"Children view + callback / ChildrenWatch {kid_cb / children_watch:5.2f}x")
    verdict = "met" if max(prop, prop_cb) <= GOAL_KIB * 1024 else "NOT met"
    print(f"  goal        Properties view <= {GOAL_KIB:.1f} KiB: {verdict} "
          f"({prop / 1024:.2f} KiB, {prop_cb / 1024:.2f} KiB with a callback); Children view {kid / 1024:.2f} KiB")
    goal(f"memory: heap per Properties view ({n:,} views, with a callback)", f"{prop_cb / 1024:.2f} KiB",
         f"<= {GOAL_KIB:.1f} KiB", max(prop, prop_cb) <= GOAL_KIB * 1024)
    setup.stop()
