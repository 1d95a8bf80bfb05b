"""Launching a ZooKeeper server's JVM and taking it down again (for
:class:`~zkservices.testing.server.ZooKeeperServer`).

The JVM runs in its own process group (``start_new_session=True``), so that a signal
to the group (:func:`signal_group`) takes the whole JVM down; its output is forwarded
to the ``zkservices.server`` logger line by line by a thread of its own, the last
lines kept in a tail.  A port is refused before the launch when another process
listens on it (readiness is "``srvr`` answers on our port": another server already
there would answer for us).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from typing import Any, Sequence

from ..errors import ServerError
from .serverconfig import READ_ONLY_JVM_OPTIONS
from .serverlog import forward_lines

__all__ = ["server_command", "launch", "signal_group", "reap", "check_port_free"]


def server_command(java: str, base_dir: str, classpath: str, *, read_only: bool, netns: str | None) -> list[str]:
    """The command line of a server whose ``zoo.cfg`` is in ``base_dir`` (run in the
    network namespace ``netns``, if given)."""
    prefix = ["ip", "netns", "exec", netns] if netns is not None else []
    return prefix + [
        java,
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dzookeeper.root.logger=INFO,CONSOLE",
        "-Dzookeeper.admin.enableServer=false",
        "-Djava.awt.headless=true",
        *(READ_ONLY_JVM_OPTIONS if read_only else ()),
        "-cp",
        os.pathsep.join([base_dir, classpath]),
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        os.path.join(base_dir, "zoo.cfg"),
    ]


def launch(cmd: Sequence[str], *, cwd: str, name: str, tail: Any) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start ``cmd`` in a process group of its own, and the thread forwarding its output
    (the last lines kept in ``tail``); the process and the thread."""
    process = subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=cwd,
    )
    assert process.stdout is not None
    reader = threading.Thread(
        target=forward_lines,
        args=(process.stdout,),
        kwargs={"name": name, "tail": tail},
        name=f"zkservices-{name}-log",
        daemon=True,
    )
    reader.start()
    return process, reader


def signal_group(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Send ``sig`` to ``process``'s group, if it still runs."""
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass


def reap(process: subprocess.Popen[bytes] | None, reader: threading.Thread | None, timeout: float) -> None:
    """Wait for ``process`` to exit (SIGKILL to its group after ``timeout`` seconds), then
    for its output to be forwarded."""
    if process is None:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait(10)
    if reader is not None:
        reader.join(5)


def check_port_free(host: str, port: int, name: str) -> None:
    """Raise ServerError when another process listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR as the server itself uses: TIME_WAIT leftovers of a
        # killed server are fine, a listening socket is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            s.listen(1)
        except OSError as exc:
            raise ServerError(
                f"cannot start ZooKeeper {name}: port {host}:{port} is in use ({exc.strerror})"
            ) from None
