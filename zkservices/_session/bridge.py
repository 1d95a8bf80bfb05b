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
makes the kazoo calls.  The same thread takes the results, in order (ZooKeeper
answers a session's requests in the order they were sent): linking a callback to each
of kazoo's results instead cost kazoo's connection thread a queue hand-over per reply
and its completion thread a wake-up per reply -- as much CPU again as the reads
themselves.  Outcomes reach the loop in batches: the first of a batch wakes it, the
batch gathers for up to ``DELIVER_WAIT`` while more requests are in flight, and the
loop settles at most ``DELIVER_AT_ONCE`` futures per turn.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import weakref
from collections import deque
from typing import Any, Awaitable, Callable, NamedTuple, TypeVar

from kazoo.exceptions import ConnectionClosedError

from ..errors import SessionClosed
from .core import SessionCore
from .retry import RETRYABLE

__all__ = ["AsyncBridge", "DELIVER_AT_ONCE"]

log = logging.getLogger("zkservices.aio")

T = TypeVar("T")

#: Futures settled per turn of the loop at most (their continuations run in the next turn).
DELIVER_AT_ONCE = 300

#: Seconds a batch of completions may wait for more while requests are in flight.
DELIVER_WAIT = 0.002

#: Seconds an unfinished oldest request may hold back the results of later ones.
SLOW_HEAD = 0.02

#: Seconds the sender lets replies gather after its oldest request completed, while
#: more than ``GATHER_ABOVE`` others are in flight: one wake-up of the sender (and of
#: kazoo's completion thread) for many replies -- a few concurrent calls never wait.
#: Measured with 2,000 concurrent reads on a quiet machine: 0.60-0.63 of raw kazoo's speed
#: without, 0.60-0.86 (most runs 0.70-0.80) with.
GATHER = 0.003
GATHER_ABOVE = 32

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


class _LoopState:
    """The bridge's bookkeeping for one loop.  ``pending`` and ``sent`` belong to the
    loop's thread; ``done``, ``batch``, ``started`` and ``urgent`` to the bridge's lock."""

    __slots__ = ("pending", "sent", "done", "batch", "started", "urgent")

    def __init__(self) -> None:
        self.pending: list[_Request] | None = None  # this turn's requests, not handed over yet
        self.sent = 0  # requests made on the loop, ever
        self.done = 0  # outcomes queued, ever
        self.batch: list[_Outcome] | None = None  # outcomes waiting for the loop
        self.started = 0.0  # when the batch began
        self.urgent = False  # the batch is to be delivered now (all in flight done, or it is full)


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
        self._loops: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState]" = weakref.WeakKeyDictionary()
        self._requests: "queue.SimpleQueue[list[_Request]]" = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._sender_lock = threading.Lock()
        self._wake = threading.Event()  # new requests, or the sender's oldest pending result done
        self._slow_head: tuple[_Request, float] | None = None  # the sender's: an unfinished oldest request
        self._lock = threading.Lock()

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
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        if state.pending is None:
            state.pending = []
            loop.call_soon(self._hand_over, state)
        state.pending.append(_Request(start, args, kwargs, loop, future))
        state.sent += 1
        return future

    def _hand_over(self, state: _LoopState) -> None:
        """At the end of a turn of the loop: give its requests to the sender thread."""
        batch, state.pending = state.pending, None
        if not batch:
            return
        with self._sender_lock:  # uncontended but for the sender's idle check
            self._requests.put(batch)
            self._wake.set()
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_all, name=f"zkservices-aio-sender-{id(self):x}",
                                                daemon=True)
                self._sender.start()

    def _send_all(self) -> None:
        """The sender thread: make the kazoo calls queued by :meth:`send`, in order,
        and collect their results in order (ZooKeeper answers a session's requests in
        the order they were sent), without a callback per reply.  It sleeps until new
        requests come or the oldest pending one completes (the one callback it links)."""
        requests = self._requests
        wake = self._wake
        inflight: deque[tuple[_Request, Any]] = deque()
        linked: Any = None  # the pending result whose completion wakes the sender
        while True:
            wake.clear()
            try:
                batch = requests.get_nowait() if inflight else requests.get(timeout=SENDER_IDLE)
            except queue.Empty:
                batch = None
            if batch is not None:
                for request in batch:
                    if request.future.cancelled():  # counted as done all the same
                        self._queue_outcome(request.loop, _Outcome(request.future, None, None))
                        continue
                    try:
                        inflight.append((request, request.start(*request.args, **request.kwargs)))
                    except BaseException as exc:  # handed to the awaiting caller
                        self._queue_outcome(request.loop, _Outcome(request.future, exc, None))
                self._collect(inflight)
                continue
            if not inflight:
                with self._sender_lock:
                    if requests.empty():
                        self._sender = None
                        return
                continue
            self._collect(inflight)
            if not inflight:
                continue
            head = inflight[0][1]
            if head is not linked:
                linked = head
                head.rawlink(lambda _: wake.set())
            if not head.ready():
                if wake.wait(SLOW_HEAD) and len(inflight) > GATHER_ABOVE:
                    time.sleep(GATHER)  # let more replies land: one wake-up for many
                if self.core.closed:  # what kazoo never answers now is answered here
                    self._abandon(inflight)
                else:
                    self._look_past(inflight)

    def _collect(self, inflight: "deque[tuple[_Request, Any]]") -> None:
        """Queue the outcomes of the finished requests at the head of ``inflight``."""
        while inflight and inflight[0][1].ready():
            self._queue_result(*inflight.popleft())

    def _abandon(self, inflight: "deque[tuple[_Request, Any]]") -> None:
        """The session is closed: finished requests get their results, the others SessionClosed."""
        while inflight:
            request, result = inflight.popleft()
            if result.ready():
                self._queue_result(request, result)
            else:
                self._queue_outcome(request.loop, _Outcome(request.future, SessionClosed("the session was closed"), None))

    def _look_past(self, inflight: "deque[tuple[_Request, Any]]") -> None:
        """An oldest request pending for ``SLOW_HEAD`` seconds (a call kazoo makes of
        several requests, e.g. ``ensure_path_async``) does not hold back the others:
        every ``SLOW_HEAD`` seconds the rest are searched for finished ones."""
        if not inflight or inflight[0][1].ready():
            return
        now = time.monotonic()
        head = inflight[0][0]
        if self._slow_head is None or self._slow_head[0] is not head:
            self._slow_head = (head, now)
        elif now - self._slow_head[1] >= SLOW_HEAD:
            self._slow_head = (head, now)
            finished = [item for item in inflight if item[1].ready()]
            for item in finished:
                inflight.remove(item)
                self._queue_result(*item)

    def _queue_result(self, request: _Request, result: Any) -> None:
        try:
            outcome = _Outcome(request.future, None, result.get(block=False))
        except BaseException as exc:
            outcome = _Outcome(request.future, exc, None)
        self._queue_outcome(request.loop, outcome)

    # -- completing ----------------------------------------------------------------

    def _queue_outcome(self, loop: asyncio.AbstractEventLoop, outcome: _Outcome) -> None:
        # On kazoo's completion thread (or the sender's).  The first outcome of a batch
        # wakes the loop, which lets the batch gather for up to DELIVER_WAIT while more
        # requests are in flight; the outcome that completes everything in flight (or
        # fills the batch) wakes it to deliver at once.  A lone call waits for nothing.
        state = self._loops.get(loop)
        if state is None:  # the loop is gone
            return
        with self._lock:
            state.done += 1
            if state.batch is None:
                state.batch = [outcome]
                state.started = time.monotonic()
                state.urgent = False
                wake = True
            else:
                state.batch.append(outcome)
                wake = False
            if not state.urgent and (state.done >= state.sent or len(state.batch) >= DELIVER_AT_ONCE):
                state.urgent = wake = True
        if wake:
            try:
                loop.call_soon_threadsafe(self._deliver, state)
            except RuntimeError:  # the loop is closed: nobody awaits these any more
                pass

    def _deliver(self, state: _LoopState) -> None:
        with self._lock:
            batch = state.batch
            if not batch:
                return
            if not state.urgent:
                remaining = state.started + DELIVER_WAIT - time.monotonic()
                if remaining > 0:
                    asyncio.get_running_loop().call_later(remaining, self._deliver, state)
                    return
            state.batch = None
        self._settle(batch)

    def _settle(self, batch: list[_Outcome]) -> None:
        # at most DELIVER_AT_ONCE futures per turn: their continuations run in the next
        for future, error, value in batch[:DELIVER_AT_ONCE]:
            if future.cancelled():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
        if len(batch) > DELIVER_AT_ONCE:
            asyncio.get_running_loop().call_soon(self._settle, batch[DELIVER_AT_ONCE:])

    # -- calling with retries --------------------------------------------------------

    async def call(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``start(*args, **kwargs)`` (a kazoo ``*_async`` method), awaited and retried
        through transient errors.

        :raises SessionClosed: the core is (or gets) closed.
        :raises: any permanent error of the call (kazoo's NoNodeError, ...), at once.
        """
        if self.core.closed:
            raise SessionClosed("the session was closed")
        try:  # the first attempt without the retry loop's frames: most calls need no more
            return await self.send(start, *args, **kwargs)
        except RETRYABLE:
            if self.core.closed:
                raise SessionClosed("the session was closed") from None
        except ConnectionClosedError:
            if self.core.closed:
                raise SessionClosed("the session was closed") from None
            raise
        await self._pause(self.delay)
        return await self.retry(lambda: self.send(start, *args, **kwargs), delay=min(self.delay * 2, self.max_delay))

    async def retry(self, attempt: Callable[[], Awaitable[T]], *, delay: float | None = None) -> T:
        """Await ``attempt()`` (a function returning an awaitable, e.g. a coroutine
        function), retried as a whole through transient errors -- for steps of several
        round trips that must start over together.  Waits without blocking the loop:
        a short back-off, then until the session is ready again.

        :param delay: the first back-off (default: the bridge's ``delay``).
        :raises SessionClosed: the core is (or gets) closed.
        """
        delay = self.delay if delay is None else delay
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
            await self._pause(delay)
            delay = min(delay * 2, self.max_delay)

    async def _pause(self, delay: float) -> None:
        """Back off ``delay`` seconds, then wait (polling, on the loop) until the session is ready."""
        await asyncio.sleep(delay)
        while not self.core.wait_ready(0) and not self.core.closed:
            await asyncio.sleep(0.05)

    def __repr__(self) -> str:
        state = "sending" if self._sender is not None else "idle"
        return f"<AsyncBridge {self.core!r} {state}>"
