"""The soak driver (``make soak``, bench/soak.py) as a 25-second smoke, so it does not rot.

Smoke only: 25 s is too short for the soak's 5 % growth bound to mean anything
(the warm-up is 8 s), so the bound is relaxed to 50 % -- only an obvious leak
fails it.  What it does check: the driver samples once a second, every kind of
fault happened (agent reload, expiry, short and long cut), the churn ran and
raised nothing, the report prints the samples' summary and tracemalloc's growth
sites, and the client's open file descriptors are back at their count before it
connected once everything is closed.  Root only, as the network fault tests.
About 45 s (a 3-node ensemble starts first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zkservices.testing import network_unavailable

_UNAVAILABLE = network_unavailable()
pytestmark = [
    pytest.mark.netfaults,
    pytest.mark.zookeeper,
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"needs a test network: {_UNAVAILABLE}"),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = 25


def test_the_soak_driver_samples_faults_and_reports_with_nothing_left_open(tmp_path):
    verdict_file = tmp_path / "soak.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "soak.py"), "--seconds", str(SECONDS), "--warmup", "8",
         "--bound", "50", "--json-to", str(verdict_file)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    assert verdict["failures"] == []
    samples = verdict["samples"]
    assert SECONDS - 3 <= len(samples) <= SECONDS + 1
    assert all(s["rss_kib"] > 0 and s["threads"] >= 1 and s["fds"] >= 3 for s in samples)
    assert all(n >= 1 for n in verdict["events"].values()), verdict["events"]
    assert all(n > 0 for n in verdict["ops"].values()), verdict["ops"]
    assert verdict["error_count"] == 0
    assert verdict["fds_after_close"] <= verdict["baseline_fds"]
    assert set(verdict["growth"]) == {"rss_kib", "heap_kib", "threads", "fds"}
    assert verdict["tracemalloc_top"] and all("size=" in line for line in verdict["tracemalloc_top"])
    for text in ("samples, one a second", "RSS MiB", "heap MiB", "threads", "open fds", "tracemalloc: top growth sites",
                 "open file descriptors", "PASS"):
        assert text in done.stdout, text
    print("\n" + done.stdout[done.stdout.index("samples, one a second") - 4:])
