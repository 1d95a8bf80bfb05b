"""Reaching a read-only server with a session the quorum has expired.

A ZooKeeper server cut off from its quorum (started with read-only mode) serves
``read_only=True`` clients, but only with a fresh session: it refuses to take over a
global one ("Refusing global session reconnection in RO mode") and closes the
connection without saying the session expired, so kazoo would retry it for as long as
the partition lasts, suspended, serving nothing.  A session that holds ephemeral nodes
(a registration) is a global one.

:class:`ReadOnlyFallback` ends that wait: once the connection has been suspended for
longer than the session timeout, the quorum has expired the session (no server heard
from it), so the client gives it up: kazoo's next attempt carries a session id no
server knows, the server answers that it expired, and kazoo starts a fresh session --
read-only on the cut-off server -- through its usual LOST, and the core's recovery
follows (views re-read; registrations wait for a read-write server).
"""

from __future__ import annotations

import logging
import threading
import time

from kazoo.protocol.states import KazooState

from .core import SessionCore
from .kazoo_internals import access

__all__ = ["ReadOnlyFallback"]

log = logging.getLogger("zkservices.session")


class ReadOnlyFallback:
    """Give up a session suspended past ``session_timeout`` seconds (times ``margin``),
    so that a read-only server can serve a fresh one."""

    def __init__(self, core: SessionCore, *, session_timeout: float, margin: float = 1.1) -> None:
        self.core = core
        self.after = session_timeout * margin
        self.given_up = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        core.add_state_listener(self._on_state)
        core.add_close_step(self._wake.set)

    def _on_state(self, state: str) -> None:  # kazoo's thread: only start a thread
        if state != KazooState.SUSPENDED or self.core.closed:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, args=(time.monotonic(),),
                                            name="zkservices-read-only-fallback", daemon=True)
            self._thread.start()

    def _suspended(self) -> bool:
        return not self.core.closed and self.core.client.state == KazooState.SUSPENDED

    def _run(self, since: float) -> None:
        while not self._wake.wait(0.1) and self._suspended():
            if time.monotonic() - since < self.after:
                continue
            log.warning("no ZooKeeper server took the session back within %.1fs: the quorum has expired it; "
                        "starting a fresh one (a read-only server serves reads on it)", self.after)
            if access(self.core.client).give_up_session():
                self.given_up += 1
            return

    def __repr__(self) -> str:
        return f"<ReadOnlyFallback after={self.after:g}s given_up={self.given_up}>"
