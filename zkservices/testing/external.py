"""A ZooKeeper server this process did not start: usable, not controllable."""

from __future__ import annotations

from typing import NoReturn

from ..errors import ServerError
from .net import server_version, srvr

__all__ = ["ExternalServer"]


class ExternalServer:
    """A running server given by its ``host:port``, standing in for a :class:`~zkservices.testing.ZooKeeperServer`.

    It offers the same attributes, so code written against a started server
    works with it; every call that would control the process
    (:meth:`start`, :meth:`stop`, :meth:`kill`, :meth:`pause`, :meth:`resume`,
    :meth:`restart`) raises :class:`ServerError` saying so.  Lifecycle:
    constructed (nothing to start), :meth:`close` only forgets it; a context
    manager.

    :param connection_string: ``host:port`` of the server.
    """

    paused = False

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string
        host, _, port = connection_string.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port) if port.isdigit() else None
        self._closed = False

    @property
    def running(self) -> bool:
        """True until :meth:`close` (it is somebody else's server: assumed to run)."""
        return not self._closed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def mode(self) -> str | None:
        """``standalone``, ``leader``, ``follower`` or None when it does not answer ``srvr``."""
        if self.port is None:
            return None
        return srvr(self.host, self.port).get("Mode")

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The server's ZooKeeper version, e.g. ``(3, 8, 0)``, from ``srvr``; None when it does not answer."""
        if self.port is None:
            return None
        return server_version(srvr(self.host, self.port))

    def _refuse(self, *args: object, **kw: object) -> NoReturn:
        raise ServerError(f"{self.connection_string} was not started by this test run and cannot be controlled")

    start = stop = kill = pause = resume = restart = _refuse

    def log_tail(self, lines: int = 50) -> str:
        """Always ``''``: the server's output is not ours to read."""
        return ""

    def close(self) -> None:
        """Forget the server (it keeps running)."""
        self._closed = True

    def __enter__(self) -> ExternalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ExternalServer {self.connection_string}>"
