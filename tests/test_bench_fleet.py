"""The fan-out bench (``make bench-fleet``, bench/fleet.py) at a tiny size, so it does not rot:
2 zkservices sessions and 2 Curator 5.4 ServiceCaches, 3 providers, 3 changes, on the
suite's server.  Checks that the table has every column and both clients, and that the
counts are sane (requests counted, every view converged on every change); not how fast.
Needs javac and Debian's Curator jars, as the Curator interop tests do.  About 10-20 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ["client", "C", "P", "M", "req/change/client", "p50 ms", "p99 ms", "max ms", "heap B/view",
           "RSS B/client"]


def test_fleet_bench_prints_both_clients_with_every_column(zk_server, tmp_path):
    rows_file = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "fleet.py"), "--connect", zk_server.connection_string,
         "-C", "2", "-P", "3", "-M", "3", "--json-to", str(rows_file)],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["client"])
    assert [c for c in COLUMNS if c not in lines[header]] == []
    table = [line.split() for line in lines[header + 1:header + 4]]
    assert [row[0] for row in table] == ["zkservices", "curator", "ratio"]
    assert all(row[1:4] == ["2", "3", "3"] for row in table)
    assert all(len(row) == 10 for row in table)  # one value under every column
    rows = json.loads(rows_file.read_text(encoding="utf-8"))
    assert [row["client"] for row in rows] == ["zkservices", "curator"]
    for row in rows:
        assert row["views_converged"] and row["latencies"] == 2 * 3, row
        # both read at least the added and the updated providers; a bound far above any real count
        assert 0 < row["requests"] < 50, row
        assert set(row["by_kind"]) == {"add", "update", "remove"}, row
        assert row["by_kind"]["add"] > 0 and row["by_kind"]["update"] > 0, row  # the new data is read
        assert -1 < row["p50"] <= row["p99"] <= row["max"] < 60, row
        assert row["heap"] > 0 and row["rss"] >= 0, row
