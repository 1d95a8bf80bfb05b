"""The one retry policy: which kazoo errors are transient, and how a call waits them out.

Every call zkservices makes to ZooKeeper goes through :class:`RetryPolicy`.  A call that
fails with a transient error (the connection is suspended, the session is being replaced,
the server is slow) waits until the session core says it is ready again and then tries
again, with a short back-off.  Only three things end the wait: the helper is closed
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
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from ..errors import SessionClosed
from .._steps.requests import authorized  # (where the steps use it too)

__all__ = ["RETRYABLE", "TRANSIENT", "RetryPolicy", "authorized"]

T = TypeVar("T")

#: Errors a call to ZooKeeper raises while the connection is suspended or the
#: session is being replaced (kazoo raises SessionExpiredError for a call made
#: while it reconnects, not only after an expiry): waited out, never final.
RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)

#: RETRYABLE plus kazoo's timeout for a connection attempt (a server that is not up yet).
TRANSIENT = RETRYABLE + (KazooTimeoutError,)


class RetryPolicy:
    """Call functions until they succeed, waiting through transient trouble.

    ``ready`` is set while calls can be expected to work (connected, and not in the
    middle of a recovery that must come first); ``closed`` tells whether the owner was
    closed.  Whoever closes the owner must set ``ready`` too, so that waiting calls
    wake up and raise :class:`~zkservices.SessionClosed`.
    """

    def __init__(
        self,
        *,
        ready: threading.Event,
        closed: Callable[[], bool],
        delay: float = 0.02,
        max_delay: float = 0.5,
        name: str = "session",
    ) -> None:
        self._ready = ready
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
            try:
                return fn(*args, **kwargs)
            except RETRYABLE:
                if self._closed():
                    raise SessionClosed(f"the {self.name} was closed") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise
            except ConnectionClosedError:
                if self._closed():
                    raise SessionClosed(f"the {self.name} was closed") from None
                raise
            self._pause(delay, deadline)
            delay = min(delay * 2, self.max_delay)

    def _pause(self, delay: float, deadline: float | None) -> None:
        """Sleep ``delay``, then wait until ready (both bounded by the deadline)."""
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        time.sleep(delay)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._ready.wait(remaining)

    def __repr__(self) -> str:
        return f"<RetryPolicy {self.name} ready={self._ready.is_set()} closed={self._closed()}>"
