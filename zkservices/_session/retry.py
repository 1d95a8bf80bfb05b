"""The one retry policy: which kazoo errors are transient, and how a call waits them out.

Every call zkservices makes to ZooKeeper goes through :class:`RetryPolicy`.  A call that
fails with a transient error (the connection is suspended, the session is being replaced,
the server is slow) waits until the session core says it is ready again and then tries
again, with a short back-off.  A write refused by a read-only server (one cut off
from its quorum, :class:`~kazoo.exceptions.NotReadOnlyCallError`) waits the same way
until the session is on a read-write server again: it is never raised as a
transient error.  Only three things end the wait: the helper is closed
(:class:`~zkservices.SessionClosed`), the deadline the caller gave passes (the last
transient error is raised), or the error is permanent (raised at once).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    NotReadOnlyCallError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from ..errors import SessionClosed
from .._steps.requests import authorized  # (where the steps use it too)

__all__ = ["READ_ONLY_REFUSALS", "RETRYABLE", "TRANSIENT", "RetryPolicy", "authorized"]

T = TypeVar("T")

#: Errors a call to ZooKeeper raises while the connection is suspended or the
#: session is being replaced (kazoo raises SessionExpiredError for a call made
#: while it reconnects, not only after an expiry): waited out, never final.
RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)

#: What a read-only server answers a write with: waited out until a read-write
#: server serves the session (never final, never written to the read-only one).
READ_ONLY_REFUSALS = (NotReadOnlyCallError,)

#: RETRYABLE plus kazoo's timeout for a connection attempt (a server that is not up yet).
TRANSIENT = RETRYABLE + (KazooTimeoutError,)


class RetryPolicy:
    """Call functions until they succeed, waiting through transient trouble.

    ``ready`` is set while calls can be expected to work (connected, and not in the
    middle of a recovery that must come first); ``writable`` (default: ``ready``) is
    set while it can also write (not on a read-only server): a call a read-only server
    refused waits for it.  ``closed`` tells whether the owner was closed.  Whoever
    closes the owner must set ``ready`` and ``writable`` too, so that waiting calls
    wake up and raise :class:`~zkservices.SessionClosed`.
    """

    def __init__(
        self,
        *,
        ready: threading.Event,
        closed: Callable[[], bool],
        writable: threading.Event | None = None,
        delay: float = 0.02,
        max_delay: float = 0.5,
        name: str = "session",
    ) -> None:
        self._ready = ready
        self._writable = writable if writable is not None else ready
        self._closed = closed
        self.delay = delay
        self.max_delay = max_delay
        self.name = name

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, retried through transient errors without a deadline."""
        return self.within(None, fn, *args, **kwargs)

    def within(self, timeout: float | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like calling the policy, but give up after ``timeout`` seconds (``None``: never).

        Raises the last transient error when the deadline passes, SessionClosed when the
        owner is closed, and any permanent error at once.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = self.delay
        while True:
            if self._closed():
                raise SessionClosed(f"the {self.name} was closed")
            wait_for = self._ready
            try:
                return fn(*args, **kwargs)
            except RETRYABLE + READ_ONLY_REFUSALS as exc:
                if self._closed():
                    raise SessionClosed(f"the {self.name} was closed") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                if isinstance(exc, READ_ONLY_REFUSALS):
                    wait_for = self._writable
            except ConnectionClosedError:
                if self._closed():
                    raise SessionClosed(f"the {self.name} was closed") from None
                raise
            self._pause(delay, deadline, wait_for)
            delay = min(delay * 2, self.max_delay)

    def _pause(self, delay: float, deadline: float | None, event: threading.Event) -> None:
        """Sleep ``delay``, then wait for ``event`` (both bounded by the deadline)."""
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        time.sleep(delay)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        event.wait(remaining)

    def __repr__(self) -> str:
        return f"<RetryPolicy {self.name} ready={self._ready.is_set()} closed={self._closed()}>"
