"""kazoo's asynchronous results as asyncio awaitables, through the same retry policy.

``await bridge.call(client.get_async, path)`` queues the request and resolves on the
running loop when kazoo completes it -- no thread per call, so thousands of concurrent
awaits pipeline like kazoo's own ``*_async`` calls.  A transient error is waited out as
:class:`~zkservices._session.retry.RetryPolicy` does, without blocking the loop: the
call is sent again once the session is ready.

Where the time goes: every thread that runs Python competes for the GIL with kazoo's
connection thread, which sends one request per turn of its own loop and is the
bottleneck of a burst.  So the bridge adds as few turns of other threads as it can.
The requests a turn of the event loop makes are handed to kazoo together at the end
of the turn through a :class:`~zkservices._session.pipe.Pipe` -- one wake-up of the
connection thread for all of them, where a kazoo call each is a system call each, and
the loop waiting for the GIL after each (a burst of a few hundred stalled the loop for
100-270 ms that way).  Their results are completed by kazoo's connection thread
itself (no hand-over to kazoo's completion thread, no thread of ours), and reach the
loop in batches: the first of a batch wakes it, the batch gathers for up to
``DELIVER_WAIT`` while more requests are in flight, and the loop settles at most
``DELIVER_AT_ONCE`` futures per turn.  Calls the pipe does not take (creates,
transactions, ``ensure_path_async``) are made on the loop as plain kazoo calls, in
order with the others; their results come through kazoo's completion thread.

The pipe's burst sends a turn's consecutive plain reads as one multi-read
(:mod:`~zkservices._session.multiread`), so kazoo's connection thread turns once for
up to ``HAND_OVER_AT_ONCE`` of them.  Measured with 2,000 concurrent reads on this
2-core machine (bench/run.py -k aio): 0.49-0.86 of raw kazoo's pipelined speed with a
sender thread of our own making the calls and collecting the results (the design
before this one), 0.73-1.05 with one request per read, 5-6x with multi-reads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any, Awaitable, Callable, NamedTuple, TypeVar

from kazoo.exceptions import ConnectionClosedError

from ..errors import SessionClosed
from .core import SessionCore
from .pipe import Burst, Pipe
from .retry import READ_ONLY_REFUSALS, RETRYABLE

__all__ = ["AsyncBridge", "DELIVER_AT_ONCE"]

log = logging.getLogger("zkservices.aio")

T = TypeVar("T")

#: Futures settled per turn of the loop at most (their continuations run in the next turn).
DELIVER_AT_ONCE = 300

#: Requests handed to kazoo per turn of the loop at most (the rest in the next turns):
#: a burst of thousands does not stall the loop while their requests are built.
HAND_OVER_AT_ONCE = 250

#: Seconds a batch of completions may wait for more while requests are in flight.
DELIVER_WAIT = 0.002


class _Request(NamedTuple):
    start: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
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


class _LoopResult:
    """A request's result: kazoo's connection thread completes it for a piped request,
    kazoo's completion thread for a plain call (once; a second completion -- a reply
    after the request was failed -- is ignored)."""

    __slots__ = ("bridge", "loop", "state", "future", "finished")

    def __init__(self, bridge: "AsyncBridge", loop: asyncio.AbstractEventLoop, state: _LoopState,
                 future: "asyncio.Future[Any]") -> None:
        self.bridge = bridge
        self.loop = loop
        self.state = state
        self.future = future
        self.finished = False

    def set(self, value: Any = None) -> None:
        self._finish(None, value)

    def set_exception(self, exception: BaseException) -> None:
        self._finish(exception, None)

    def _finish(self, error: BaseException | None, value: Any) -> None:
        if self.finished:
            return
        self.finished = True
        try:  # on kazoo's connection thread: nothing may escape
            self.bridge._queue_outcome(self.loop, self.state, _Outcome(self.future, error, value))
        except Exception:  # pragma: no cover - a bug of ours, not to take kazoo's connection down
            log.exception("delivering a result to the event loop failed")


def _complete(result: _LoopResult, done: Any) -> None:
    """Complete ``result`` as kazoo's finished result ``done`` (a plain call's) is."""
    try:
        value = done.get(block=False)
    except Exception as exc:
        result.set_exception(exc)
    else:
        result.set(value)


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
        self._pipe = Pipe(core.client)
        self._lock = threading.Lock()

    # -- sending -----------------------------------------------------------------

    def send(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Queue ``start(*args, **kwargs)`` (a kazoo ``*_async`` method); a future of its
        result on the running loop (no retry).  Must be called from a coroutine (or a
        callback) running on that loop.

        The requests a turn of the loop makes are handed to kazoo together at the end
        of the turn: kazoo's threads do not compete with the loop for the GIL while it
        is still making them.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        if state.pending is None:
            state.pending = []
            loop.call_soon(self._hand_over, loop, state)
        state.pending.append(_Request(start, args, kwargs, future))
        state.sent += 1
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
        """At the end of a turn of the loop: give its requests to kazoo, in order --
        the piped ones with one wake-up per run of them, the others as plain calls."""
        batch, state.pending = state.pending, None
        if not batch:
            return
        if len(batch) > HAND_OVER_AT_ONCE:  # the rest (and what comes meanwhile) next turn
            batch, state.pending = batch[:HAND_OVER_AT_ONCE], batch[HAND_OVER_AT_ONCE:]
            loop.call_soon(self._hand_over, loop, state)
        burst = Burst(self._pipe)
        for request in batch:
            future = request.future
            if future.cancelled():  # counted as done all the same
                self._queue_outcome(loop, state, _Outcome(future, None, None))
                continue
            result = _LoopResult(self, loop, state, future)
            try:
                started = burst.send(request.start, request.args, request.kwargs, result)
            except Exception as exc:  # bad arguments: handed to the awaiting caller
                result.set_exception(exc)
                continue
            if started is not result:  # a plain call: kazoo's completion thread has its result
                started.rawlink(lambda done, result=result: _complete(result, done))
        burst.flush()

    # -- completing ----------------------------------------------------------------

    def _queue_outcome(self, loop: asyncio.AbstractEventLoop, state: _LoopState, outcome: _Outcome) -> None:
        # On kazoo's connection or completion thread (or the loop's).  The first outcome of a batch
        # wakes the loop, which lets the batch gather for up to DELIVER_WAIT while more
        # requests are in flight; the outcome that completes everything in flight (or
        # fills the batch) wakes it to deliver at once.  A lone call waits for nothing.
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
        writable = False
        try:  # the first attempt without the retry loop's frames: most calls need no more
            return await self.send(start, *args, **kwargs)
        except RETRYABLE + READ_ONLY_REFUSALS as exc:
            if self.core.closed:
                raise SessionClosed("the session was closed") from None
            writable = isinstance(exc, READ_ONLY_REFUSALS)
        except ConnectionClosedError:
            if self.core.closed:
                raise SessionClosed("the session was closed") from None
            raise
        await self._pause(self.delay, writable)
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
            writable = False
            try:
                return await attempt()
            except RETRYABLE + READ_ONLY_REFUSALS as exc:
                if self.core.closed:
                    raise SessionClosed("the session was closed") from None
                writable = isinstance(exc, READ_ONLY_REFUSALS)
            except ConnectionClosedError:
                if self.core.closed:
                    raise SessionClosed("the session was closed") from None
                raise
            await self._pause(delay, writable)
            delay = min(delay * 2, self.max_delay)

    async def _pause(self, delay: float, writable: bool = False) -> None:
        """Back off ``delay`` seconds, then wait (polling, on the loop) until the session
        is ready -- with ``writable``, on a read-write server (a read-only one refused)."""
        await asyncio.sleep(delay)
        wait = self.core.wait_writable if writable else self.core.wait_ready
        while not wait(0) and not self.core.closed:
            await asyncio.sleep(0.05)

    def __repr__(self) -> str:
        how = "piped" if self._pipe.usable else "plain calls"
        return f"<AsyncBridge {self.core!r} {how}>"
