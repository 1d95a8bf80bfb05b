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
import time
from typing import Any, Sequence

from ..errors import ServerError
from .serverconfig import READ_ONLY_JVM_OPTIONS
from .serverlog import forward_lines

__all__ = ["server_command", "launch", "signal_group", "wait_stopped", "reap", "check_port_free"]


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


def wait_stopped(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Wait until every thread of ``process`` is stopped, after a SIGSTOP: ``kill``
    returns before the stop takes effect, and on a busy machine a server thread that
    is running or about to run may still answer a request sent meanwhile.  Reads the
    threads' states from ``/proc`` (Linux); elsewhere it returns at once.  Raises
    :class:`ServerError` after ``timeout`` seconds."""
    if process is None or not os.path.isdir(f"/proc/{process.pid}/task"):
        return
    deadline = time.monotonic() + timeout
    while True:
        states = set()
        try:
            tids = os.listdir(f"/proc/{process.pid}/task")
        except FileNotFoundError:  # it exited
            return
        for tid in tids:
            try:
                with open(f"/proc/{process.pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                    states.add(f.read().rsplit(")", 1)[1].split()[0])
            except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
                continue
        if states <= {"T", "t", "Z", "X"}:
            return
        if time.monotonic() >= deadline:
            raise ServerError(f"process {process.pid} not stopped {timeout:g}s after SIGSTOP "
                              f"(thread states {sorted(states)})")
        time.sleep(0.001)


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
