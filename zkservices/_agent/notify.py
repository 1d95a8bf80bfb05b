"""systemd notification (``sd_notify``): ``READY=1``, ``RELOADING=1``, ``STOPPING=1`` and the watchdog.

Written out rather than taken from a library: the protocol is one datagram
per message on the unix socket named by ``$NOTIFY_SOCKET`` (``@`` for the
abstract namespace), and no extra dependency is worth that.  Without
``$NOTIFY_SOCKET`` every call does nothing.  The watchdog sends
``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` while a condition holds (the
agent's session is usable), so systemd restarts an agent that lost it for
longer than the watchdog allows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping

__all__ = ["Notifier"]

log = logging.getLogger("zkservices.agent.notify")


class Notifier:
    """Talk to systemd as ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` in ``environ`` say."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether ``$NOTIFY_SOCKET`` is set."""
        return self.address is not None

    def send(self, message: str) -> None:
        """Send one message (``"READY=1"``...); a failure is logged, never raised."""
        if self.address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("cannot notify systemd (%s): %s", message.replace("\n", " "), exc)

    def start_watchdog(self, healthy: Callable[[], bool]) -> None:
        """Send ``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` while ``healthy()`` (nothing without it)."""
        if self.address is None or self.watchdog_interval is None or self._thread is not None:
            return
        interval = self.watchdog_interval

        def run() -> None:
            while not self._stop.wait(interval):
                if healthy():
                    self.send("WATCHDOG=1")

        self._thread = threading.Thread(target=run, name="zkservices-agent-watchdog", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the watchdog and close the socket."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
