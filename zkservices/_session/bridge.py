"""kazoo's asynchronous results as asyncio awaitables, through the same retry policy.

``await bridge.call(client.get_async, path)`` queues the request and resolves on the
running loop when kazoo completes it -- no thread per call, so thousands of concurrent
awaits pipeline like kazoo's own ``*_async`` calls.  A transient error is waited out as
:class:`~zkservices._session.retry.RetryPolicy` does, without blocking the loop: the
call is sent again once the session is ready.

Where the time goes, and why requests leave from a sender thread: each kazoo
``*_async`` call wakes kazoo's connection thread with a system call, which releases
the GIL; while kazoo's threads are busy (serialising requests, reading replies) the
caller then waits for the GIL again, up to a switch interval (5 ms) per call and often
several.  Made on the loop's thread, a burst of a few hundred calls stalled the loop
for 100-270 ms.  So the loop only appends requests to a queue (no system call, no GIL
hand-over) and one sender thread per bridge -- started on demand, gone when idle --
makes the kazoo calls.  Completions come back in batches: kazoo's completion thread
takes each result (value or exception) and wakes the loop once for all that completed
meanwhile; the loop settles at most ``DELIVER_AT_ONCE`` futures per turn.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any, Awaitable, Callable, NamedTuple, TypeVar

from kazoo.exceptions import ConnectionClosedError

from ..errors import SessionClosed
from .core import SessionCore
from .retry import RETRYABLE

__all__ = ["AsyncBridge", "DELIVER_AT_ONCE"]

log = logging.getLogger("zkservices.aio")

T = TypeVar("T")

#: Futures settled per turn of the loop at most (their continuations run in the next turn).
DELIVER_AT_ONCE = 100

#: Seconds the sender thread waits for work before it ends (it starts again on demand).
SENDER_IDLE = 2.0


class _Request(NamedTuple):
    start: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: "asyncio.Future[Any]"


class _Outcome(NamedTuple):
    future: "asyncio.Future[Any]"
    error: BaseException | None
    value: Any


class AsyncBridge:
    """Await kazoo ``*_async`` calls of ``core``'s client on the running loop.

    :param core: the session whose client the calls use (``core.closed`` ends retries).
    :param delay: the first back-off, in seconds, after a transient error.
    :param max_delay: the longest back-off between retries.

    Any number of loops may use one bridge; each result is delivered to the loop that
    awaited it.  Requests are sent in the order they were made.
    """

    def __init__(self, core: SessionCore, *, delay: float = 0.02, max_delay: float = 0.5) -> None:
        self.core = core
        self.delay = delay
        self.max_delay = max_delay
        self._pending: dict[asyncio.AbstractEventLoop, list[_Request]] = {}  # this turn's, per loop
        self._requests: "queue.SimpleQueue[list[_Request]]" = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._sender_lock = threading.Lock()
        self._lock = threading.Lock()
        self._done: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}

    # -- sending -----------------------------------------------------------------

    def send(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Queue ``start(*args, **kwargs)`` (a kazoo ``*_async`` method); a future of its
        result on the running loop (no retry).  Must be called from a coroutine (or a
        callback) running on that loop.

        The requests a turn of the loop makes are handed to the sender thread together
        at the end of the turn: the sender and kazoo's threads do not compete with the
        loop for the GIL while it is still making them.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Request(start, args, kwargs, loop, future))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """At the end of a turn of ``loop``: give its requests to the sender thread."""
        batch = self._pending.pop(loop, None)
        if not batch:
            return
        with self._sender_lock:  # uncontended but for the sender's idle check
            self._requests.put(batch)
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_all, name=f"zkservices-aio-sender-{id(self):x}",
                                                daemon=True)
                self._sender.start()

    def _send_all(self) -> None:
        """The sender thread: make the kazoo calls queued by :meth:`send`, in order."""
        requests = self._requests
        while True:
            try:
                batch = requests.get(timeout=SENDER_IDLE)
            except queue.Empty:
                with self._sender_lock:
                    if requests.empty():
                        self._sender = None
                        return
                continue
            for request in batch:
                if request.future.cancelled():
                    continue
                try:
                    result = request.start(*request.args, **request.kwargs)
                except BaseException as exc:  # handed to the awaiting caller
                    self._queue_outcome(request.loop, _Outcome(request.future, exc, None))
                    continue
                result.rawlink(lambda done, loop=request.loop, future=request.future:
                               self._completed(loop, future, done))

    # -- completing ----------------------------------------------------------------

    def _completed(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", result: Any) -> None:
        # on kazoo's completion thread: take the outcome here, off the loop
        try:
            outcome = _Outcome(future, None, result.get(block=False))
        except BaseException as exc:
            outcome = _Outcome(future, exc, None)
        self._queue_outcome(loop, outcome)

    def _queue_outcome(self, loop: asyncio.AbstractEventLoop, outcome: _Outcome) -> None:
        # wake the loop only for the first outcome of a batch
        with self._lock:
            batch = self._done.get(loop)
            if batch is not None:
                batch.append(outcome)
                return
            self._done[loop] = [outcome]
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            with self._lock:
                self._done.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop, batch: list[_Outcome] | None = None) -> None:
        if batch is None:
            with self._lock:
                batch = self._done.pop(loop, [])
        for future, error, value in batch[:DELIVER_AT_ONCE]:
            if future.cancelled():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
        if len(batch) > DELIVER_AT_ONCE:
            loop.call_soon(self._deliver, loop, batch[DELIVER_AT_ONCE:])

    # -- calling with retries --------------------------------------------------------

    async def call(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``start(*args, **kwargs)`` (a kazoo ``*_async`` method), awaited and retried
        through transient errors.

        :raises SessionClosed: the core is (or gets) closed.
        :raises: any permanent error of the call (kazoo's NoNodeError, ...), at once.
        """
        return await self.retry(lambda: self.send(start, *args, **kwargs))

    async def retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await ``attempt()`` (a function returning an awaitable, e.g. a coroutine
        function), retried as a whole through transient errors -- for steps of several
        round trips that must start over together.  Waits without blocking the loop:
        a short back-off, then until the session is ready again.

        :raises SessionClosed: the core is (or gets) closed.
        """
        delay = self.delay
        while True:
            if self.core.closed:
                raise SessionClosed("the session was closed")
            try:
                return await attempt()
            except RETRYABLE:
                if self.core.closed:
                    raise SessionClosed("the session was closed") from None
            except ConnectionClosedError:
                if self.core.closed:
                    raise SessionClosed("the session was closed") from None
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)
            while not self.core.wait_ready(0) and not self.core.closed:
                await asyncio.sleep(0.05)

    def __repr__(self) -> str:
        state = "sending" if self._sender is not None else "idle"
        return f"<AsyncBridge {self.core!r} {state}>"
