"""Joining a rebuilt ensemble instead of retrying it forever.

A ZooKeeper server refuses a session from a client that has seen newer transactions
than the server has ("client must try another server").  That protects clients from a
lagging follower; but when the whole ensemble was rebuilt with empty data, or restored
from an older snapshot, no server will ever accept the session, and kazoo retries for
ever with nothing in the log but "socket connection broken".

:class:`RebuildWatch` notices it: while the connection is suspended it asks each server
with ``srvr`` (ZooKeeper's four-letter word, allowed by default) for its last
transaction id.  When every server that answers is behind what this client has seen,
twice in a row, it logs an ERROR saying so and lets kazoo start over: the client forgets
the transactions it has seen, the server then reports the session as expired, and the
core's usual recovery runs (registrations restored, views re-read, callbacks called for
real changes only).

A session over TLS probes over TLS too, with the session's certificates (ZooKeeper
answers the four-letter words on its secure client port).
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Callable

from kazoo.protocol.states import KazooState

from .._os.fourletter import srvr
from .core import SessionCore
from .kazoo_internals import access

__all__ = ["RebuildWatch", "server_zxid"]

log = logging.getLogger("zkservices.session")

Probe = Callable[[str, int], "int | None"]


def server_zxid(host: str, port: int, *, timeout: float = 1.0, ssl_context: ssl.SSLContext | None = None) -> int | None:
    """The last transaction id a serving ZooKeeper server reports (``srvr``; over TLS
    with ``ssl_context``), or None when it does not answer, is not serving, or does
    not allow the command."""
    zxid = srvr(host, port, timeout=timeout, ssl_context=ssl_context).get("Zxid")
    if zxid is None:
        return None
    try:
        return int(zxid, 16)
    except ValueError:
        return None


class RebuildWatch:
    """Probe the servers while suspended; start a fresh session when they were rebuilt.

    ``interval`` is the pause between probes, ``confirmations`` how many probes in a
    row must find every answering server behind before the session is given up;
    ``ssl_context`` (for a session over TLS) is what the probes connect with.
    """

    def __init__(
        self,
        core: SessionCore,
        *,
        interval: float = 1.0,
        confirmations: int = 2,
        probe: Probe | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.core = core
        self.interval = interval
        self.confirmations = confirmations
        self._probe: Probe = probe or (lambda host, port: server_zxid(host, port, ssl_context=ssl_context))
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.rebuilds_seen = 0
        core.add_state_listener(self._on_state)
        core.add_close_step(self._wake.set)

    def _on_state(self, state: str) -> None:  # kazoo's thread: only start a thread
        if state != KazooState.SUSPENDED or self.core.closed:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="zkservices-rebuild-watch", daemon=True)
            self._thread.start()

    def _suspended(self) -> bool:
        return not self.core.closed and self.core.client.state == KazooState.SUSPENDED

    def _run(self) -> None:
        behind_in_a_row = 0
        while not self._wake.wait(self.interval) and self._suspended():
            seen = self.core.client.last_zxid
            answers = [(host, port, self._probe(host, port)) for host, port in self.core.client.hosts]
            answering = [(h, p, z) for h, p, z in answers if z is not None]
            if seen and answering and all(z < seen for _, _, z in answering):
                behind_in_a_row += 1
            else:
                behind_in_a_row = 0
            if behind_in_a_row >= self.confirmations:
                servers = ", ".join(f"{h}:{p} at 0x{z:x}" for h, p, z in answering)
                log.error(
                    "ZooKeeper answers but refuses this session: this client has seen transactions up to 0x%x, "
                    "the servers only %s -- the ensemble was rebuilt or restored from an older snapshot; "
                    "starting a fresh session (registrations and watches are restored on it)",
                    seen, servers,
                )
                self.rebuilds_seen += 1
                # kazoo's next attempt then carries no transaction id: the server answers
                # that the session has expired, and kazoo starts a new one.
                if not access(self.core.client).forget_seen_zxid():
                    log.error("this kazoo keeps no last_zxid to reset: the session cannot start over")
                self.core.watches.forget_history()  # what the views saw is no history of these servers
                behind_in_a_row = 0

    def __repr__(self) -> str:
        running = self._thread is not None and self._thread.is_alive()
        return f"<RebuildWatch {'probing' if running else 'idle'} rebuilds_seen={self.rebuilds_seen}>"
