"""The README's first command: ``zkservices demo`` runs on its own, narrates, and leaves nothing running."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from _util import wait_for

pytestmark = pytest.mark.zookeeper  # the demo starts a server of its own


WAIT = 30.0


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
    # the first screen tells the story: no server log, never a Java stack trace
    assert " zkservices.server: " not in result.stderr and "\tat org.apache" not in result.stderr
    assert "Exception" not in result.stdout
    # nothing left running: the demo's ZooKeeper is gone (others' may run on)
    assert _zookeeper_processes() <= before


@pytest.mark.zookeeper  # the demo starts a server of its own
def test_demo_terminated_leaves_no_zookeeper_running():
    # SIGTERM killed the demo without unwinding: its ZooKeeper (in a session of
    # its own) ran on, and the temporary directories stayed.
    import re
    import socket

    proc = subprocess.Popen([sys.executable, "-m", "zkservices", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        match = re.search(r"running at (127\.0\.0\.1):(\d+)", first)
        assert match, first
        assert proc.stdout.readline().startswith("2. ")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == 128 + signal.SIGTERM

        def server_gone() -> bool:
            try:
                socket.create_connection((match.group(1), int(match.group(2))), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_for(server_gone, WAIT, "the demo's ZooKeeper to be stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()



def test_demo_without_jinja2_says_it_needs_the_feed_extra_before_starting_anything():
    before = _zookeeper_processes()
    code = ("import sys; sys.modules['jinja2'] = None\n"  # as in an install without the feed extra
            "from zkservices.cli import main; sys.exit(main(['demo']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "zkservices demo: the demo renders a feed, which needs Jinja2: pip install 'zkservices[feed]'")
    assert _zookeeper_processes() <= before
