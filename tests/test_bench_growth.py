"""The growth-curve bench (``make bench-growth``, bench/growth.py) at its tiniest sizes, so it
does not rot: 10 and 20 registrations, views and children on the suite's server.  Checks
that each curve prints its table and growth lines and that the rows are sane (times
positive, memory counted, every fault recovered); not how fast.  About 15-30 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {
    "registrations": {"open_s", "expiry_s", "expiry_returned_s", "heap_per_item", "rss_per_item", "peak_rss"},
    "views": {"open_s", "drop_s", "expiry_s", "latency_s", "heap_per_item", "rss_per_item", "peak_rss"},
    "children": {"open_s", "expiry_s", "latency_add_s", "latency_update_s", "latency_remove_s",
                 "heap_per_item", "rss_per_item", "peak_rss"},
}


def test_growth_bench_prints_every_curve_with_sane_rows(zk_server, tmp_path):
    rows_file = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "growth.py"), "--connect", zk_server.connection_string,
         "--sizes", "10,20", "--json-to", str(rows_file)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for title in ("Registrations per session", "Views per session", "Children per view"):
        assert title in out, out
    assert out.count("growth of open time per item: 10->20 x") == 3, out
    assert "goal heap per view <= 2 KiB:" in out, out
    rows = json.loads(rows_file.read_text(encoding="utf-8"))
    assert [(row["curve"], row["n"]) for row in rows] == [
        (curve, n) for curve in ("registrations", "views", "children") for n in (10, 20)]
    for row in rows:
        assert KEYS[row["curve"]] <= set(row), row
        for key in KEYS[row["curve"]] - {"rss_per_item"}:
            bound = 600 if key.endswith("_s") else 2**31  # seconds; bytes
            assert 0 < row[key] < bound, (key, row)
        assert -1e6 < row["rss_per_item"] < 1e7, row  # RSS can shrink a page or two
        assert row["expiry_s"] >= row.get("expiry_returned_s", 0), row
