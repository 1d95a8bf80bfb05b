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
    ours, raw_l = _interleave(
        5,
        lambda: measure(n // 5, lambda i: change(writer, ours_path, i), seen),
        lambda: measure(n // 5, lambda i: change(writer, raw_path, i), seen),
    )
    report_latency(label, ours, raw_l)
    zk.close()
    raw.stop()
    writer.stop()


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
    recoveries: list[float] = []

    class Recorded(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("recovery:"):
                recoveries.append(float(record.args[-1]))  # seconds, from new session to done

    handler = Recorded(level=logging.INFO)
    session_log = logging.getLogger("zkservices.session")
    session_log.addHandler(handler)
    session_log.setLevel(logging.INFO)
    session_log.propagate = False
    for _ in range(3):
        start = time.perf_counter()
        expire_session(zk)  # returns after zk restored registrations and re-armed views
        timings.append(time.perf_counter() - start)
    session_log.removeHandler(handler)
    session_log.setLevel(logging.NOTSET)
    session_log.propagate = True
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
    print(f"  zkservices  new session -> fully recovered: best {min(recoveries) * 1000:7.1f} ms, "
          f"median {statistics.median(recoveries) * 1000:7.1f} ms")
    print(f"  raw kazoo   same creates + watched reads one at a time: {raw_time * 1000:7.1f} ms")
    print(f"  ratio       {min(recoveries) / raw_time:7.2f}x (recovery alone vs raw kazoo)")
    zk.close()
    raw.stop()
    setup.stop()


def _bench_tree_text(n: int) -> str:
    """About ``n`` nodes: 10 services x 9 groups x leaves, each leaf with a small JSON object."""
    leaves = max(1, (n - 100) // 90)
    lines = []
    for t in range(10):
        lines.append(f"/service{t} : bench")
        lines.append(f"  threads = {t}")
        for m in range(9):
            lines.append(f"  /group{m}")
            lines.append(f'    name = "group {m}"')
            for k in range(leaves):
                lines.append(f"    /10.0.{m}.{k}:8080")
                lines.append(f'      host = "10.0.{m}.{k}"')
                lines.append("      port = 8080")
                lines.append(f"      weight = {k % 5}")
    return "\n".join(lines) + "\n"


@section
def tree_import_export(cs: str, quick: bool) -> None:
    """import_tree/export_tree vs one call at a time (zc.zk) vs kazoo's pipelined ceiling.

    Every contender gets the parsed tree and encodes the node data itself;
    zkservices is timed from the parsed tree and from the text (where it
    parses too: the others get the same parse time added).
    """
    from zkservices._znode.encoding import encode
    from zkservices._tree import iter_nodes, parse_tree

    n = 2_000 if quick else 10_000
    rounds = 1 if quick else 3
    text = _bench_tree_text(n)
    root = parse_tree(text)
    count = sum(1 for _ in iter_nodes(root))
    setup = client(cs)
    setup.ensure_path("/bench/trees")
    zk = zkservices.ZooKeeper(cs)
    raw = client(cs)
    keys = ("parse", "ours_text_import", "ours_import", "one_import", "ceiling_import",
            "ours_export", "one_export", "ceiling_export")
    times: dict[str, list[float]] = {k: [] for k in keys}

    def encoded() -> list[tuple[str, bytes]]:
        return [(path, encode(node.properties, path=path)) for path, node in iter_nodes(root)]

    def one_at_a_time_import(base: str) -> None:  # what zc.zk does: a create per node, waiting for each
        raw.create(base)
        for path, data in encoded():
            raw.create(base + path, data)

    def ceiling_import(base: str) -> None:  # transactions of 1,000 creates, all in flight at once
        nodes = encoded()
        raw.create(base)
        pending = []
        for i in range(0, len(nodes), 1000):
            transaction = raw.transaction()
            for path, data in nodes[i:i + 1000]:
                transaction.create(base + path, data)
            pending.append(transaction.commit_async())
        for result in pending:
            assert not any(isinstance(r, Exception) for r in result.get())

    def one_at_a_time_export(base: str) -> int:  # zc.zk's export: get + get_children per node
        seen = 0

        def visit(path: str) -> None:
            nonlocal seen
            raw.get(path)
            seen += 1
            for name in sorted(raw.get_children(path)):
                visit(f"{path}/{name}")

        visit(base)
        return seen

    paths = [path for path, _ in iter_nodes(root)]

    def ceiling_export(base: str) -> int:  # every path known beforehand: get_async, all pipelined
        pending = [raw.get_async(base + path) for path in paths]
        for result in pending:
            result.get()
        return len(pending)

    def timed(key: str, fn: Callable[..., object], *args: object) -> object:
        start = time.perf_counter()
        result = fn(*args)
        times[key].append(time.perf_counter() - start)
        return result

    for r in range(rounds):
        base = f"/bench/trees/r{r}"
        timed("parse", parse_tree, text)
        assert len(timed("ours_text_import", zk.import_tree, text, base + "text")) == count + 1
        assert len(timed("ours_import", zk.import_tree, root, base + "ours")) == count + 1
        timed("one_import", one_at_a_time_import, base + "one")
        timed("ceiling_import", ceiling_import, base + "ceiling")
        exported = timed("ours_export", zk.export_tree, base + "ours")
        assert isinstance(exported, str) and exported.count("\n") >= count
        assert timed("one_export", one_at_a_time_export, base + "one") == count + 1
        timed("ceiling_export", ceiling_export, base + "ceiling")

    start = time.perf_counter()
    assert zk.import_tree(root, f"/bench/trees/r{rounds - 1}ours") == []
    unchanged = time.perf_counter() - start

    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}

    def row(label: str, key: str, extra: float = 0.0) -> None:
        print(f"    {label:38s} {(best[key] + extra) * 1000:8.1f} ms  [{(med[key] + extra) * 1000:8.1f}]")

    def verdict(ours: float, one: float, ceiling: float) -> None:
        print(f"    -> {one / ours:5.1f}x faster than one at a time (goal >= 5x); "
              f"{ceiling / ours * 100:4.0f}% of the pipelined ceiling (goal >= 80%)")

    print(f"Trees: import and export of {count:,} nodes; best of {rounds} [median]")
    print("  import from the parsed tree (each contender encodes the data itself)")
    row("zkservices import_tree(node)", "ours_import")
    row("kazoo one create at a time (zc.zk)", "one_import")
    row("kazoo transactions of 1,000, pipelined", "ceiling_import")
    verdict(best["ours_import"], best["one_import"], best["ceiling_import"])
    print(f"  import from the text (parsing, {best['parse'] * 1000:.1f} ms, added to the kazoo contenders)")
    row("zkservices import_tree(text)", "ours_text_import")
    row("parse + one create at a time", "one_import", best["parse"])
    row("parse + pipelined transactions", "ceiling_import", best["parse"])
    verdict(best["ours_text_import"], best["one_import"] + best["parse"], best["ceiling_import"] + best["parse"])
    print("  export (zkservices also writes the text; the ceiling knows every path beforehand)")
    row("zkservices export_tree", "ours_export")
    row("kazoo get + get_children one at a time", "one_export")
    row("kazoo get_async, all pipelined", "ceiling_export")
    verdict(best["ours_export"], best["one_export"], best["ceiling_export"])
    print(f"  re-import of the unchanged tree (reads every node, writes nothing): {unchanged * 1000:.1f} ms")
    zk.close()
    raw.stop()
    setup.stop()


@section
def aio_reads(cs: str, quick: bool) -> None:
    """2,000 concurrent ``await azk.get_properties(path)`` from one loop against raw
    kazoo ``get_async`` pipelined (all sent, then all awaited), best of 3 interleaved;
    and the longest stall of the loop while the awaits run."""
    import asyncio

    import zkservices.aio

    n = 500 if quick else 2000
    raw = client(cs)
    raw.ensure_path("/bench/aio")
    raw.set("/bench/aio", b'{"threads": 4, "name": "x"}')
    zk = zkservices.ZooKeeper(cs)
    azk = zkservices.aio.AsyncZooKeeper(zk)

    async def ours() -> tuple[float, float]:
        stalls = [0.0]
        running = True

        async def ticker() -> None:
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                stalls[0] = max(stalls[0], now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await asyncio.gather(*(azk.get_properties("/bench/aio") for _ in range(n)))
        elapsed = time.perf_counter() - started
        running = False
        await tick
        return elapsed, stalls[0]

    def pipelined() -> float:
        started = time.perf_counter()
        results = [raw.get_async("/bench/aio") for _ in range(n)]
        for result in results:
            result.get()
        return time.perf_counter() - started

    best_ours, best_raw, worst_stall = float("inf"), float("inf"), 0.0
    for _ in range(3):
        elapsed, stall = asyncio.run(ours())
        best_ours = min(best_ours, elapsed)
        worst_stall = max(worst_stall, stall)
        best_raw = min(best_raw, pipelined())
    print(f"{n} concurrent reads from one asyncio loop (best of 3)")
    print(f"  zkservices.aio get_properties  {best_ours * 1000:8.1f} ms")
    print(f"  raw kazoo get_async pipelined  {best_raw * 1000:8.1f} ms")
    print(f"  speed vs raw kazoo             {best_raw / best_ours:8.2f} (goal >= 0.80)")
    print(f"  longest loop stall             {worst_stall * 1000:8.1f} ms (goal <= 50 ms)")
    zk.close()
    raw.stop()


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
