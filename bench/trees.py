"""Tree import and export against raw kazoo: its pipelined best, and one call at a time."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from typing import Callable

import zkservices
from common import client, goal, section


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
    """import_tree/export_tree against raw kazoo's pipelined best, interleaved, best of N.

    Import: raw kazoo's best is transactions of 1,000 creates sent pipelined
    (all committed, then waited for) with the node data already encoded in
    memory -- no parsing, no encoding in its time.  zkservices is timed from
    the text: parsing, validation (all before the first write), planning and
    encoding included.  Export: raw kazoo's best is a get_async for every
    path, known beforehand, all pipelined; zkservices walks the tree (and
    lists children) and writes the text or YAML.
    """
    from zkservices._tree import emit_tree, iter_nodes, parse_tree
    from zkservices._session.multiread import refuse
    from zkservices._znode.encoding import encode

    n = 2_000 if quick else 10_000
    rounds = 2 if quick else 7
    import_rounds = 2 if quick else 8
    text = _bench_tree_text(n)
    root = parse_tree(text)
    count = sum(1 for _ in iter_nodes(root))
    setup = client(cs)
    setup.ensure_path("/bench/trees")
    zk = zkservices.ZooKeeper(cs)
    single = zkservices.ZooKeeper(cs)  # multi-reads refused: one request per node, as with servers before 3.6
    refuse(single.core.client)
    raw = client(cs)
    times: dict[str, list[float]] = {}
    encoded = [(path, encode(node.properties, path=path)) for path, node in iter_nodes(root)]
    paths = [path for path, _ in encoded]

    def ceiling_import(base: str) -> None:  # transactions of 1,000 creates, all in flight at once
        raw.create(base)
        pending = []
        for i in range(0, len(encoded), 1000):
            transaction = raw.transaction()
            for path, data in encoded[i:i + 1000]:
                transaction.create(base + path, data)
            pending.append(transaction.commit_async())
        for result in pending:
            assert not any(isinstance(r, Exception) for r in result.get())

    def one_at_a_time_import(base: str) -> None:  # what zc.zk does: a create per node, waiting for each
        raw.create(base)
        for path, node in iter_nodes(root):
            raw.create(base + path, encode(node.properties, path=path))

    def ceiling_export(base: str) -> int:  # every path known beforehand: get_async, all pipelined
        pending = [raw.get_async(base + path) for path in paths]
        for result in pending:
            result.get()
        return len(pending)

    def one_at_a_time_export(base: str) -> int:  # zc.zk's export: get + get_children per node
        seen = 0
        pending = [base]
        while pending:
            path = pending.pop()
            raw.get(path)
            seen += 1
            pending.extend(f"{path}/{name}" for name in sorted(raw.get_children(path), reverse=True))
        return seen

    def timed(key: str, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
        gc.collect()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.setdefault(key, []).append(time.perf_counter() - start)
        return result

    def imports(base: str, raw_first: bool) -> None:  # the parse alone, then the three imports of one round
        timed("parse", parse_tree, text)
        runs = [lambda: timed("ceiling_import", ceiling_import, base + "ceiling"),
                lambda: len(timed("ours_text_import", zk.import_tree, text, base + "text")),
                lambda: len(timed("ours_node_import", zk.import_tree, root, base + "node"))]
        for run in runs if raw_first else runs[::-1]:
            assert run() in (None, count + 1)

    def clean(base: str) -> None:  # (keeps the server small)
        for kind in ("ceiling", "text", "node"):
            zk.delete_recursive(base + kind, force=True)

    for r in range(import_rounds):  # imports alone first: short, so more rounds to see past the noise
        imports(f"/bench/trees/i{r}", raw_first=r % 2 == 1)  # each goes first (after the server's idle) in turn
        clean(f"/bench/trees/i{r}")
    for r in range(rounds):
        base = f"/bench/trees/r{r}"
        imports(base, raw_first=True)
        timed("ceiling_export", ceiling_export, base + "ceiling")
        exported = timed("ours_export", zk.export_tree, base + "text")
        assert isinstance(exported, str) and exported.count("\n") >= count
        timed("ours_export_yaml", zk.export_tree, base + "text", format="yaml")
        if r < 3:  # context, three rounds: ~2 s each
            timed("single_export", single.export_tree, base + "text")
        timed("emit_text", emit_tree, root)
        timed("emit_yaml", emit_tree, root, format="yaml")
        assert timed("ours_reimport", zk.import_tree, text, base + "text") == []
        clean(base)
    last = f"/bench/trees/r{rounds - 1}"
    timed("one_import", one_at_a_time_import, last + "one")
    assert timed("one_export", one_at_a_time_export, last + "one") == count + 1

    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}

    def row(label: str, key: str) -> None:
        print(f"    {label:44s} {best[key] * 1000:8.1f} ms  [{med[key] * 1000:8.1f}]")

    def ratio(label: str, fast: str, slow: str, target: str) -> None:
        value = best[fast] / best[slow]
        print(f"    -> {label}: {value:.2f} ({target})  [medians: {med[fast] / med[slow]:.2f}]")
        least = float(target.rsplit(">=", 1)[1])
        goal(f"trees ({count:,} nodes): {label}", f"{value:.2f}", target.replace("goal ", ""), value >= least)

    print(f"Trees: import and export of {count:,} nodes; best of {rounds} interleaved, imports of "
          f"{rounds + import_rounds} [median]")
    print("  import from the text (zkservices parses, validates, plans and encodes; kazoo's data is ready)")
    row("zkservices import_tree(text)", "ours_text_import")
    row("raw kazoo transactions of 1,000, pipelined", "ceiling_import")
    ratio("import speed vs raw kazoo's best", "ceiling_import", "ours_text_import", "goal >= 0.80")
    print(f"    (the ceiling while validation precedes the first write: raw's writes plus the parse alone, "
          f"{best['ceiling_import'] / (best['ceiling_import'] + best['parse']):.2f})")
    print("  context")
    row("  of which parse_tree(text) alone", "parse")
    row("zkservices import_tree(parsed tree)", "ours_node_import")
    row("kazoo one create at a time (zc.zk), once", "one_import")
    print(f"    -> import_tree(text) is {best['one_import'] / best['ours_text_import']:.1f}x faster than one at a time")
    print("  export (zkservices walks the tree and writes it; kazoo knows every path beforehand)")
    row("zkservices export_tree, text", "ours_export")
    row("zkservices export_tree, YAML", "ours_export_yaml")
    row("raw kazoo get_async of every path, pipelined", "ceiling_export")
    row("kazoo get + get_children one at a time, once", "one_export")
    ratio("text export speed vs raw kazoo's best", "ceiling_export", "ours_export", "goal >= 0.90")
    ratio("YAML export speed vs raw kazoo's best", "ceiling_export", "ours_export_yaml", "goal >= 0.90")
    print("  context: zkservices reads in multi-reads of up to 500 (ZooKeeper 3.6+); one request per node instead:")
    row("zkservices export_tree, text, one request per node", "single_export")
    print(f"    -> {best['ceiling_export'] / best['single_export']:.2f} of raw kazoo's best "
          "(multi-reads refused, as by servers before 3.6; best of 3)")
    print("  context: writing the parsed tree alone (no server)")
    row("emit_tree(tree), text", "emit_text")
    row("emit_tree(tree), YAML (plain lines here, the rest PyYAML)", "emit_yaml")
    print("  re-import of the unchanged tree (reads every node, writes nothing)")
    row("zkservices import_tree(text), unchanged", "ours_reimport")
    ratio("re-import speed vs text export", "ours_export", "ours_reimport", "goal >= 1.00")
    zk.close()
    single.close()
    raw.stop()
    setup.stop()


@section
def tree_import_memory(cs: str, quick: bool) -> None:
    """Memory of import_tree(text) against the parsed tree it holds (tracemalloc, Python heap).

    The tree's size is what parse_tree's result holds (tracemalloc's current
    size after parsing); the import's is its peak above what was there
    before it started (the text aside), returned changes included.
    """
    from zkservices._tree import parse_tree

    n = 10_000 if quick else 100_000
    text = _bench_tree_text(n)
    zk = zkservices.ZooKeeper(cs)
    zk.core.client.ensure_path("/bench/memory")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tree = parse_tree(text)
        tree_size = tracemalloc.get_traced_memory()[0] - before
        del tree
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        start = time.perf_counter()
        changes = zk.import_tree(text, "/bench/memory/tree")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    print(f"Trees: memory of import_tree(text) of {len(changes) - 1:,} nodes (tracemalloc; {elapsed:.1f} s traced)")
    print(f"    parsed tree                                  {tree_size / 2**20:8.1f} MiB")
    print(f"    import_tree(text) peak above its start       {peak / 2**20:8.1f} MiB")
    print(f"    -> {peak / tree_size:.2f}x the parsed tree (goal <= 3x)")
    goal(f"trees: import_tree(text) memory peak, {n:,} nodes, vs parsed tree", f"{peak / tree_size:.2f}x", "<= 3x",
         peak / tree_size <= 3)
    del changes
    zk.delete_recursive("/bench/memory", force=True)
    zk.close()
