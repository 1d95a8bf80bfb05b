"""Views against raw kazoo watches: change -> callback latency; the selector per call."""

from __future__ import annotations

import time
from typing import Callable

from kazoo.client import KazooClient

import zkservices
from common import _compare_latency, client, section

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
