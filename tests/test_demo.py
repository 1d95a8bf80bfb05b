"""The README's first command: ``zkservices demo`` runs on its own and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.zookeeper  # the demo starts a server of its own


def _zookeeper_processes():
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in ps.splitlines() if "QuorumPeerMain" in line}


def test_demo_runs_and_narrates_every_step():
    before = _zookeeper_processes()
    result = subprocess.run(
        [sys.executable, "-m", "zkservices", "demo"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for step in range(1, 9):
        assert f"\n{step}. " in "\n" + out, f"step {step} missing:\n{out}"
    assert "did not change in time" not in out, out
    assert out.count("# /demo/web: 3 healthy backend(s)") >= 3
    assert "# /demo/web: 2 healthy backend(s)" in out
    assert "max_fails=5" in out
    assert "The rendered file is unchanged." in out
    # the library said what happened, in the log
    assert "unhealthy" in result.stderr and "session lost" in result.stderr
    # nothing left running: the demo's ZooKeeper is gone (others' may run on)
    assert _zookeeper_processes() <= before
