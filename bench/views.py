"""Views against raw kazoo watches: change -> callback latency; the selector per call."""

from __future__ import annotations

import threading
import time
from typing import Callable

from kazoo.client import KazooClient

import zkservices
import common
from common import _compare_latency, client, goal, measure, pct, section

@section
def children_latency(cs: str, quick: bool) -> None:
    counter = {"i": 0}

    def add_child(writer: KazooClient, path: str, _: int) -> None:
        counter["i"] += 1
        writer.create(f"{path}/c{counter['i']}")

    _compare_latency(
        cs, quick, "Children view vs kazoo ChildrenWatch: change (other session) -> callback", "children",
        lambda raw, path, cb: raw.ChildrenWatch(path)(cb), add_child,
    )


def _fill(setup: KazooClient, path: str, n: int) -> None:
    """``path`` with ``n`` children, written in transactions of 1,000 creates."""
    setup.ensure_path(path)
    pending = []
    for start in range(0, n, 1000):
        transaction = setup.transaction()
        for i in range(start, min(n, start + 1000)):
            transaction.create(f"{path}/child-{i:05d}")
        pending.append(transaction.commit_async())
    for result in pending:
        assert not any(isinstance(r, Exception) for r in result.get())


@section
def children_many(cs: str, quick: bool) -> None:
    """A Children view over 1,000 and 10,000 children against a raw ChildrenWatch on its own
    as many children: another session adds a child -> callback (interleaved rounds)."""
    setup = client(cs)
    writer = client(cs)
    zk = zkservices.ZooKeeper(cs)
    raw = client(cs)
    seen = threading.Event()
    stamp = common.observed

    def noticed(*_: object) -> None:
        stamp[0] = time.perf_counter()
        seen.set()

    def noticed_by_view(view: object) -> None:  # one parameter: as a typical user callback
        stamp[0] = time.perf_counter()
        seen.set()

    def noticed_with_change(view: object, change: object) -> None:  # takes the ChildrenChange too
        stamp[0] = time.perf_counter()
        seen.set()

    def noticed_reading_change(view: object, change: zkservices.ChildrenChange) -> None:  # and reads it
        assert change.added
        stamp[0] = time.perf_counter()
        seen.set()

    n = 40 if quick else 160
    rounds = 4 if quick else 8
    results = []
    for size in (1_000, 10_000):
        paths = {k: f"/bench/many{size}-{k}" for k in ("ours", "change", "reading", "raw")}
        for path in paths.values():
            _fill(setup, path, size)
        zk.children(paths["ours"])(noticed_by_view)
        zk.children(paths["change"])(noticed_with_change)
        zk.children(paths["reading"])(noticed_reading_change)
        raw.ChildrenWatch(paths["raw"])(noticed)
        time.sleep(0.2)
        counter = {"i": 0}

        def add(path: str) -> Callable[[int], None]:
            def change(_: int) -> None:
                counter["i"] += 1
                writer.create(f"{path}/new-{counter['i']:06d}")
            return change

        ours: list[float] = []
        with_change: list[float] = []
        reading: list[float] = []
        raw_l: list[float] = []
        contenders = [(ours, "ours"), (raw_l, "raw"), (with_change, "change"), (reading, "reading")]
        for r in range(rounds):  # interleaved, each round in another order: drift hits all alike
            for into, key in contenders[r % 4:] + contenders[:r % 4]:
                into += measure(n // rounds, add(paths[key]), seen)
        results.append((size, ours, with_change, reading, raw_l))
    print("Children view over many children vs kazoo ChildrenWatch on as many: "
          "another session adds a child -> callback")
    print("  (callbacks: f(view); f(view, change) -- the change is computed when read; "
          "f(view, change) reading change.added)")
    for size, ours, with_change, reading, raw_l in results:
        r50 = pct(raw_l, 50)
        print(f"  {size:6,} children   zkservices p50 f(view) {pct(ours, 50) * 1000:6.2f} ms, "
              f"f(view, change) {pct(with_change, 50) * 1000:6.2f} ms, reading it {pct(reading, 50) * 1000:6.2f} ms;"
              f"   raw kazoo p50 {r50 * 1000:6.2f} ms   (n={len(ours)} each)")
        print(f"  {'':6}            ratio p50 {pct(ours, 50) / r50:5.2f}x, {pct(with_change, 50) / r50:5.2f}x, "
              f"{pct(reading, 50) / r50:5.2f}x   p99 (f(view)) {pct(ours, 99) / pct(raw_l, 99):5.2f}x   "
              f"goal p50 <= 1.10x")
        goal(f"Children view over {size:,} children vs ChildrenWatch, p50", f"{pct(ours, 50) / r50:.2f}x",
             "<= 1.10x", pct(ours, 50) / r50 <= 1.10)
    zk.close()
    raw.stop()
    writer.stop()
    setup.stop()


@section
def properties_latency(cs: str, quick: bool) -> None:
    _compare_latency(
        cs, quick, "Properties view vs kazoo DataWatch: change (other session) -> callback", "properties",
        lambda raw, path, cb: raw.DataWatch(path)(cb),
        lambda writer, path, _: writer.set(path, b'{"i":%d}' % time.perf_counter_ns()),
    )


@section
def providers_latency(cs: str, quick: bool) -> None:
    """zk.providers() vs a raw ChildrenWatch that reads each new child's data (pipelined)."""
    counter = {"i": 0}

    def add_provider(writer: KazooClient, path: str, _: int) -> None:
        counter["i"] += 1
        writer.create(f"{path}/10.0.0.1:{counter['i']}", b'{"host":"10.0.0.1","port":%d}' % counter["i"])

    def arm_raw(raw: KazooClient, path: str, cb: Callable[..., None]) -> None:
        known: set[str] = set()

        def changed(names: list[str]) -> None:
            new = [n for n in names if n not in known]
            for result in [raw.get_async(f"{path}/{n}") for n in new]:
                result.get()
            known.update(new)
            cb()

        raw.ChildrenWatch(path)(changed)

    _compare_latency(
        cs, quick, "Providers view vs kazoo ChildrenWatch + reads: new provider (other session) -> callback",
        "providers", arm_raw, add_provider,
    )


@section
def selector(cs: str, quick: bool) -> None:
    """selector.get() and lease() per call with 100 providers (in memory: no server round trip)."""
    setup = client(cs)
    for i in range(100):
        setup.create(f"/bench/selector/10.0.0.1:{1000 + i}", b"", makepath=True)
    zk = zkservices.ZooKeeper(cs)
    n = 20_000 if quick else 200_000
    print(f"selector, 100 providers, {n:,} calls each (per call, best of 3)")
    for strategy in ("round-robin", "random", "sticky", "least-loaded"):
        with zk.selector("/bench/selector", strategy) as chosen:
            get, lease = chosen.get, chosen.lease
            best_get = best_lease = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(n):
                    get()
                best_get = min(best_get, time.perf_counter() - start)
                start = time.perf_counter()
                for _ in range(n):
                    with lease():
                        pass
                best_lease = min(best_lease, time.perf_counter() - start)
            print(f"  {strategy:13} get {best_get / n * 1e6:6.2f} us   lease {best_lease / n * 1e6:6.2f} us")
    zk.close()
    setup.stop()
