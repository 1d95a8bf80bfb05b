"""One step of the growth curves (bench/growth.py): one curve at one size, in a process of its own.

    python bench/growth_step.py CURVE N CONNECTION_STRING [--profile FILE]

CURVE is ``registrations``, ``views`` or ``children``.  Prints one JSON line (the
row) on stdout.  Every phase is timed without tracemalloc (RSS measured around
it); the Python heap per item is a second pass, traced, on a fresh session.
``--profile FILE``: cProfile on every thread (one profiler per thread, merged) of
the timed pass, written to FILE (pstats).
"""

from __future__ import annotations

import cProfile
import gc
import json
import logging
import os
import resource
import sys
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from kazoo.client import KazooClient  # noqa: E402

import common  # noqa: E402 - bench/common.py (this script's folder is on sys.path)
import zkservices  # noqa: E402
from zkservices.testing import drop_connection, expire_session  # noqa: E402

BASE = "/bench-growth"
LATENCY_CHANGES = 20  # per kind of change
SAMPLED = 20  # views changed during a fault (spread over all of them)
FAULT_TIMEOUT = 600.0


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent
    that forked it, which may be much bigger)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def address(i: int) -> str:
    return f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"


def provider_data(i: int, version: int = 0) -> bytes:
    return b'{"host":"%s","port":8080,"weight":1,"v":%d}' % (address(i).encode(), version)


def pipelined(calls: list[Callable[[], Any]], window: int = 2000) -> None:
    """Run kazoo ``*_async`` calls with at most ``window`` in flight."""
    for start in range(0, len(calls), window):
        for result in [call() for call in calls[start:start + window]]:
            result.get()


def create_many(writer: KazooClient, paths: list[str], data: Callable[[int], bytes]) -> None:
    """``paths`` created in transactions of 1,000, pipelined."""
    pending = []
    for start in range(0, len(paths), 1000):
        transaction = writer.transaction()
        for i in range(start, min(len(paths), start + 1000)):
            transaction.create(paths[i], data(i))
        pending.append(transaction.commit_async())
    for result in pending:
        outcome = result.get()
        assert not any(isinstance(r, Exception) for r in outcome), outcome[:3]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


class Profiler:
    """cProfile on the main thread and on every thread started after :meth:`start`
    (kazoo's and zkservices' threads): one profiler per thread, merged at the end."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _hook(self, *_: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook in this thread

    def start(self) -> None:
        threading.setprofile(self._hook)
        self._hook()

    def dump(self, path: str) -> None:
        import pstats

        threading.setprofile(None)  # type: ignore[arg-type]
        self.profiles[0].disable()
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            try:
                stats.add(profile)
            except (TypeError, ValueError):  # a thread that never ran a profiled call
                pass
        stats.dump_stats(path)


class GcTime:
    """Seconds the cyclic garbage collector ran (any thread) since construction, and how
    many full (generation 2) collections."""

    def __init__(self) -> None:
        self.seconds, self.full, self._began = 0.0, 0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.full += info["generation"] == 2

    def stop(self) -> dict[str, float]:
        gc.callbacks.remove(self._callback)
        return {"gc_s": self.seconds, "gc_full": self.full}


class Recoveries(logging.Handler):
    """The session's own "recovery done in" times (seconds from the new session to done)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.seconds: list[float] = []
        log = logging.getLogger("zkservices.session")
        log.addHandler(self)
        log.setLevel(logging.INFO)
        log.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("recovery done in"):
            self.seconds.append(float(record.args[0]))  # type: ignore[index]


def heap_per_item(cs: str, n: int, make: Callable[[zkservices.ZooKeeper, int], Any]) -> float:
    """Python heap each of ``n`` items holds (tracemalloc), made on a fresh session."""
    zk = zkservices.ZooKeeper(cs)
    try:
        make(zk, -1)  # one-time costs (first view, first registration) are not per item
        return common.heap_per_item(n, lambda: [make(zk, i) for i in range(n)], zk.core.worker.barrier)
    finally:
        zk.close()


def timed_expiry(zk: zkservices.ZooKeeper, during: Callable[[], None], current: Callable[[], bool],
                 recoveries: Recoveries) -> dict[str, float]:
    """Expire ``zk``'s session while ``during`` writes from another thread; seconds from the
    fault until ``expire_session`` returned (zk recovered) and until ``current()``."""
    writes = threading.Thread(target=during)
    start = time.perf_counter()
    writes.start()
    expire_session(zk, timeout=FAULT_TIMEOUT)
    returned = time.perf_counter() - start
    writes.join()
    wait_for(current, FAULT_TIMEOUT, "the views to be current after the expiry")
    return {"expiry_returned_s": returned, "expiry_s": time.perf_counter() - start,
            "expiry_session_s": recoveries.seconds[-1] if recoveries.seconds else float("nan")}


def registrations(cs: str, n: int, writer: KazooClient, profiler: Profiler | None) -> dict[str, Any]:
    path = f"{BASE}/registrations-{n}/providers"
    if profiler:  # before the session: its threads are profiled from their start
        profiler.start()
    zk = zkservices.ZooKeeper(cs)
    recoveries = Recoveries()
    zk.register_server(f"{BASE}/registrations-{n}/warm", (address(0), 8080))  # one-time costs
    gc.collect()
    rss0 = rss()
    gc_time = GcTime()
    start = time.perf_counter()
    kept = [zk.register_server(path, (address(i), 8080)) for i in range(n)]
    opened = time.perf_counter() - start
    rss1 = rss()
    collected = gc_time.stop()
    assert len(writer.get_children(path)) == n and len(kept) == n
    old = zk.client.client_id[0]

    def back() -> bool:
        names = writer.get_children(path)
        if len(names) != n:
            return False
        owner = writer.exists(f"{path}/{names[n // 2]}").ephemeralOwner
        return owner != old and owner == zk.client.client_id[0]

    row = timed_expiry(zk, lambda: None, back, recoveries)
    if profiler:
        profiler.dump(profile_file)
    zk.close()
    heap = heap_per_item(cs, n, lambda z, i: z.register_server(f"{path}-heap", (address(max(i, 0)), 8081 + (i < 0))))
    return {"open_s": opened, "rss_per_item": (rss1 - rss0) / n, "heap_per_item": heap, **collected, **row}


def latencies(changes: list[Callable[[], None]], seen: threading.Event, stamp: list[float]) -> list[float]:
    out = []
    for change in changes:
        seen.clear()
        began = time.perf_counter()
        change()
        if not seen.wait(60):
            raise SystemExit("a change was never seen")
        out.append(stamp[0] - began)
    return out


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def views(cs: str, n: int, writer: KazooClient, profiler: Profiler | None) -> dict[str, Any]:
    """``n`` providers() views, each of an empty node of its own."""
    base = f"{BASE}/views-{n}"
    writer.ensure_path(base)
    paths = [f"{base}/v{i:06d}" for i in range(n + 1)]
    create_many(writer, paths, lambda i: b"")
    if profiler:  # before the session: its threads are profiled from their start
        profiler.start()
    zk = zkservices.ZooKeeper(cs)
    recoveries = Recoveries()
    zk.providers(paths[n])  # one-time costs
    gc.collect()
    rss0 = rss()
    gc_time = GcTime()
    start = time.perf_counter()
    kept = [zk.providers(paths[i]) for i in range(n)]
    opened = time.perf_counter() - start
    rss1 = rss()
    collected = gc_time.stop()
    sampled = sorted({i * n // SAMPLED for i in range(SAMPLED)})
    seen, stamp = threading.Event(), [0.0]

    def noticed(view: object) -> None:
        stamp[0] = time.perf_counter()
        seen.set()

    for i in sampled:
        kept[i](noticed)
    expected = {i: 0 for i in sampled}
    counter = [0]

    def add_one(i: int) -> Callable[[], None]:
        def change() -> None:
            counter[0] += 1
            writer.create(f"{paths[i]}/{address(counter[0])}:8080", provider_data(counter[0]))
            expected[i] += 1
        return change

    lat = latencies([add_one(sampled[k % len(sampled)]) for k in range(LATENCY_CHANGES)], seen, stamp)

    def change_sampled() -> None:
        for i in sampled:
            add_one(i)()

    def current() -> bool:
        return zk.connected and all(len(kept[i]) == expected[i] for i in sampled)

    row: dict[str, Any] = {"open_s": opened, "rss_per_item": (rss1 - rss0) / n, "latency_s": median(lat),
                           **collected}
    start = time.perf_counter()
    drop_connection(zk, timeout=FAULT_TIMEOUT)
    change_sampled()
    wait_for(current, FAULT_TIMEOUT, "the views to be current after the dropped connection")
    row["drop_s"] = time.perf_counter() - start
    row.update(timed_expiry(zk, change_sampled, current, recoveries))
    assert sum(len(v) for v in kept) == sum(expected.values())  # and every other view still empty
    if profiler:
        profiler.dump(profile_file)
    zk.close()
    row["heap_per_item"] = heap_per_item(cs, n, lambda z, i: z.providers(paths[i] if i >= 0 else paths[n]))
    return row


def children(cs: str, n: int, writer: KazooClient, profiler: Profiler | None) -> dict[str, Any]:
    """One providers() view over ``n`` providers."""
    path = f"{BASE}/children-{n}/providers"
    writer.ensure_path(path)
    create_many(writer, [f"{path}/{address(i)}:8080" for i in range(n)], provider_data)
    if profiler:  # before the session: its threads are profiled from their start
        profiler.start()
    zk = zkservices.ZooKeeper(cs)
    recoveries = Recoveries()
    warm = f"{BASE}/children-{n}/warm"
    writer.ensure_path(warm)
    zk.providers(warm)
    gc.collect()
    rss0 = rss()
    gc_time = GcTime()
    start = time.perf_counter()
    view = zk.providers(path)
    opened = time.perf_counter() - start
    rss1 = rss()
    collected = gc_time.stop()
    assert len(view) == n, len(view)
    seen, stamp = threading.Event(), [0.0]

    def noticed(view: object) -> None:
        stamp[0] = time.perf_counter()
        seen.set()

    view(noticed)
    first = f"{address(0)}:8080"
    state = {"extra": n, "v": 0}

    def add() -> None:
        state["extra"] += 1
        writer.create(f"{path}/{address(state['extra'])}:8080", provider_data(state["extra"]))

    def update() -> None:
        state["v"] += 1
        writer.set(f"{path}/{first}", provider_data(0, state["v"]))

    def remove() -> None:
        writer.delete(f"{path}/{address(state['extra'])}:8080")
        state["extra"] -= 1

    row: dict[str, Any] = {"open_s": opened, "rss_per_item": (rss1 - rss0) / n, **collected}
    for kind, change in (("add", add), ("update", update), ("remove", remove)):
        lat = []
        for _ in range(LATENCY_CHANGES // 2):  # add+remove pairs keep the size at n
            if kind == "remove":
                latencies([add], seen, stamp)
            lat += latencies([change], seen, stamp)
            if kind == "add":
                latencies([remove], seen, stamp)
        row[f"latency_{kind}_s"] = median(lat)
    row["latency_s"] = max(row["latency_add_s"], row["latency_update_s"], row["latency_remove_s"])

    def during() -> None:
        add()
        update()
        remove()
        add()

    def current() -> bool:  # no copy of the view: this runs every few ms beside the recovery
        provider = view.get(first)
        return (zk.connected and len(view) == state["extra"]
                and provider is not None and provider.properties.get("v") == state["v"])

    row.update(timed_expiry(zk, during, current, recoveries))
    if profiler:
        profiler.dump(profile_file)
    zk.close()
    row["heap_per_item"] = heap_per_item(cs, 1, lambda z, i: z.providers(path if i >= 0 else warm)) / n
    return row


CURVES = {"registrations": registrations, "views": views, "children": children}
profile_file = ""


def main(argv: list[str]) -> int:
    global profile_file
    curve, n, cs = argv[0], int(argv[1]), argv[2]
    profiler = None
    if len(argv) > 4 and argv[3] == "--profile":
        profile_file, profiler = argv[4], Profiler()
    logging.basicConfig(level=logging.ERROR)
    writer = KazooClient(hosts=cs, timeout=30)
    writer.start()
    try:
        row = CURVES[curve](cs, n, writer, profiler)
    finally:
        writer.stop()
        writer.close()
    row.update(curve=curve, n=n, peak_rss=peak_rss())
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
