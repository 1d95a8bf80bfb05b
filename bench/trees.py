"""Tree import and export against raw kazoo, one call at a time and pipelined."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import zkservices
from common import client, section

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
