"""The README commands' set-up (scripts/bootstrap) where it cannot install.

Run for real: a private mount namespace hides Debian's ZooKeeper jars, and the
script runs as an unprivileged user, so it can neither find nor install the
server and must say exactly what to install.  Needs root (for the namespace),
which CI and the development machines have.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _can_hide() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


needs_root = pytest.mark.skipif(
    not _can_hide(), reason="needs root allowed to make mount namespaces (unshare -m) and setpriv"
)


def _run_hidden(*, hide: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = (
        f"mount -t tmpfs none {hide} && "
        "exec setpriv --reuid=65534 --regid=65534 --clear-groups "
        "env -i " + " ".join(f"{k}={v}" for k, v in env.items()) + " bash -s"
        # the script comes on stdin, opened as root: the unprivileged user may
        # not be able to read the clone (CI clones into a 0700 temporary dir)
        f" < {ROOT}/scripts/bootstrap"
    )
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60, cwd="/")


@needs_root
def test_not_root_and_no_zookeeper_says_what_to_install():
    venv = "/nonexistent-zkservices-venv"
    result = _run_hidden(
        hide="/usr/share/java",
        env={"PATH": "/usr/bin:/bin", "HOME": "/", "VENV": venv},
    )
    assert result.returncode == 1, result.stderr
    assert "sudo apt-get install -y zookeeper" in result.stderr
    assert "ZOOKEEPER_CLASSPATH" in result.stderr
    assert not os.path.exists(venv)  # it stopped before doing anything else
