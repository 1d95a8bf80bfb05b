"""Connecting in the background: a ZooKeeper session opened by a thread that keeps trying.

``ZooKeeper(wait=True)`` blocks its caller and cannot be cancelled; a
:class:`BackgroundConnection` tries on its own thread, one
``attempt_timeout`` connect at a time, until a server answers, a permanent
error (a bad connection string, bad auth...) ends it, or it is closed.  Server
sets and feeds given a connection string, and ``zkservices register``, connect
this way, so they can start while ZooKeeper is down.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from .._os import BackgroundLoop
from .._session import default_connection_string
from .._session.tls import TLSOption
from .._zookeeper import ZooKeeper
from ..errors import FailedConnect

__all__ = ["BackgroundConnection"]

log = logging.getLogger("zkservices.connect")

#: Seconds between two connect attempts.
RETRY_DELAY = 0.2


class BackgroundConnection:
    """A :class:`~zkservices.ZooKeeper` session established by a background thread.

    :param connection_string: where to connect (``None``: the default one,
        ``$ZKSERVICES_CONNECTION`` and so on).
    :param session_timeout: of the session.
    :param attempt_timeout: seconds one connect attempt may take.
    :param auth: ``(scheme, credentials)`` pairs for the session, as :class:`~zkservices.ZooKeeper` takes.
    :param tls: TLS options for the session, as :class:`~zkservices.ZooKeeper` takes.
    :param read_only: let a read-only server serve the session, as :class:`~zkservices.ZooKeeper` takes.
    :param resync_jitter: as :class:`~zkservices.ZooKeeper` takes (default 0: none).

    Lifecycle: the constructor starts nothing; :meth:`start` starts the
    connecting thread; :meth:`close` stops trying and closes the session if
    there is one (this connection owns it).  Callbacks added with
    :meth:`add_done_callback` run once connecting is over: connected
    (:attr:`zk` set) or given up (:attr:`error` and :attr:`exception` set).
    It is a context manager (start on enter, close on exit).
    """

    def __init__(
        self,
        connection_string: str | None = None,
        *,
        session_timeout: float = 10.0,
        attempt_timeout: float = 5.0,
        auth: Sequence[tuple[str, str]] | None = None,
        tls: TLSOption = None,
        read_only: bool = False,
        resync_jitter: float = 0.0,
    ) -> None:
        if attempt_timeout <= 0:
            raise ValueError(f"attempt_timeout must be positive, not {attempt_timeout!r}")
        self.connection_string = connection_string or default_connection_string()
        self.session_timeout = float(session_timeout)
        self.attempt_timeout = float(attempt_timeout)
        self.auth = list(auth) if auth else None
        self.tls = tls
        self.read_only = bool(read_only)
        self.resync_jitter = float(resync_jitter)
        self.zk: ZooKeeper | None = None
        self.error: str | None = None  # why connecting was given up
        self.exception: BaseException | None = None  # the exception that ended it
        self._closed = False
        self._failures = 0
        self._callbacks: list[Callable[[BackgroundConnection], None]] = []
        self._loop = BackgroundLoop(self._attempt, name="zkservices-connect")
        self._lock = self._loop.condition

    # -- state -------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether connecting is over (connected or given up)."""
        return self.zk is not None or self.exception is not None

    @property
    def running(self) -> bool:
        """Whether the connecting thread is alive."""
        return self._loop.running

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "BackgroundConnection":
        """Start the connecting thread; returns the connection.  Only once (else :class:`RuntimeError`)."""
        self._loop.start()
        return self

    def add_done_callback(self, callback: Callable[["BackgroundConnection"], None]) -> None:
        """Call ``callback(connection)`` once connecting is over (at once if it is).

        Callbacks run on the connecting thread (or the caller's, when already
        done); an exception they raise is logged.  Not called after :meth:`close`.
        """
        with self._lock:
            if not self.done:
                if not self._closed:
                    self._callbacks.append(callback)
                return
        self._call(callback)

    def close(self, timeout: float | None = 0.0) -> None:
        """Stop trying and close the session if there is one (idempotent).

        An attempt in progress ends by itself within ``attempt_timeout`` and its
        session is closed at once; ``timeout`` is how long to wait for that
        (``0``, the default: not at all; ``None``: as long as it takes).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            zk, self.zk = self.zk, None
            self._callbacks.clear()
        self._loop.stop(timeout)
        if zk is not None:
            zk.close()

    def __enter__(self) -> "BackgroundConnection":
        if not self._loop.started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self.zk is not None:
            state = "connected"
        elif self.exception is not None:
            state = "failed"
        else:
            state = "connecting" if self._loop.started else "not started"
        return f"<BackgroundConnection {self.connection_string} {state}>"

    # -- the thread ----------------------------------------------------------

    def _attempt(self) -> float | None:
        try:
            zk = ZooKeeper(self.connection_string, self.session_timeout, timeout=self.attempt_timeout,
                           auth=self.auth, tls=self.tls, read_only=self.read_only,
                           resync_jitter=self.resync_jitter)
        except FailedConnect:
            self._failures += 1
            if self._failures == 1:
                log.warning("ZooKeeper at %s does not answer; still trying", self.connection_string)
            else:
                log.debug("ZooKeeper at %s still does not answer (attempt %d)", self.connection_string, self._failures)
            return RETRY_DELAY
        except Exception as exc:  # a bad connection string, bad auth...: retrying will not help
            with self._lock:
                self.error = f"cannot connect to ZooKeeper at {self.connection_string}: {type(exc).__name__}: {exc}"
                self.exception = exc
                callbacks, self._callbacks = self._callbacks, []
            log.error("%s", self.error)
            self._call_all(callbacks)
            return None
        with self._lock:
            if self._closed:
                zk.close()
                return None
            self.zk = zk
            callbacks, self._callbacks = self._callbacks, []
        if self._failures:
            log.warning("ZooKeeper at %s answers again", self.connection_string)
        self._call_all(callbacks)
        return None

    def _call_all(self, callbacks: list[Callable[["BackgroundConnection"], None]]) -> None:
        for callback in callbacks:
            self._call(callback)

    def _call(self, callback: Callable[["BackgroundConnection"], None]) -> None:
        try:
            callback(self)
        except Exception:
            log.exception("connection callback %r failed", callback)
