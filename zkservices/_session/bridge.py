"""kazoo's asynchronous results as asyncio awaitables, through the same retry policy.

``await bridge.call(client.get_async, path)`` sends the request at once (kazoo only
queues it) and resolves on the running loop when kazoo completes it -- no thread per
call, so thousands of concurrent awaits pipeline like kazoo's own ``*_async`` calls.
A transient error is waited out as :class:`~zkservices._session.retry.RetryPolicy`
does, without blocking the loop: the call is sent again once the session is ready.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any, Callable

from kazoo.exceptions import ConnectionClosedError

from ..errors import SessionClosed
from .core import SessionCore
from .retry import RETRYABLE

__all__ = ["AsyncBridge"]

DELIVER_AT_ONCE = 100


def _settle_future(future: "asyncio.Future[Any]", result: Any) -> None:
    if future.cancelled():
        return
    try:
        value = result.get(block=False)
    except BaseException as exc:  # handed to the awaiting caller
        future.set_exception(exc)
    else:
        future.set_result(value)


class AsyncBridge:
    """Await kazoo ``*_async`` calls of ``core``'s client on the running loop.

    Requests go out from one pump task per loop, at most ``burst`` seconds of sending
    per turn of the loop, so thousands of concurrent calls never stall it long;
    completions come back in batches (one wake-up of the loop for all that completed
    meanwhile).
    """

    def __init__(self, core: SessionCore, *, delay: float = 0.02, max_delay: float = 0.5,
                 burst: float = 0.005) -> None:
        self.core = core
        self.delay = delay
        self.max_delay = max_delay
        self.burst = burst
        self._lock = threading.Lock()
        self._done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        self._outbox: dict[asyncio.AbstractEventLoop, deque[tuple[Callable[..., Any], tuple, dict, Any]]] = {}

    def send(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Queue one request for the pump; a future of its result (no retry)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        outbox = self._outbox.get(loop)
        if outbox is None:
            outbox = self._outbox[loop] = deque()
            loop.create_task(self._pump(loop, outbox))
        outbox.append((start, args, kwargs, future))
        return future

    async def _pump(self, loop: asyncio.AbstractEventLoop, outbox: "deque[Any]") -> None:
        try:
            while outbox:
                deadline = time.perf_counter() + self.burst
                while outbox and time.perf_counter() < deadline:
                    start, args, kwargs, future = outbox.popleft()
                    if future.cancelled():
                        continue
                    try:
                        result = start(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                        continue
                    result.rawlink(lambda done, future=future: self._completed(loop, future, done))
                await asyncio.sleep(0)
        finally:
            self._outbox.pop(loop, None)
            for _, _, _, future in outbox:  # the loop is going away: cancel what was not sent
                future.cancel()

    def _completed(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", result: Any) -> None:
        # on kazoo's completion thread: queue it; wake the loop only for the first of a batch
        with self._lock:
            batch = self._done.get(loop)
            if batch is not None:
                batch.append((future, result))
                return
            self._done[loop] = [(future, result)]
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            with self._lock:
                self._done.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Any, Any]] | None = None) -> None:
        if batch is None:
            with self._lock:
                batch = self._done.pop(loop, [])
        # wake at most DELIVER_AT_ONCE awaiting calls per turn of the loop: their
        # continuations run together in the next turn
        for future, result in batch[:DELIVER_AT_ONCE]:
            _settle_future(future, result)
        if len(batch) > DELIVER_AT_ONCE:
            loop.call_soon(self._deliver, loop, batch[DELIVER_AT_ONCE:])

    async def call(self, start: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``start(*args, **kwargs)`` (a kazoo ``*_async`` method), awaited and retried
        through transient errors; SessionClosed once the core is closed."""
        delay = self.delay
        while True:
            if self.core.closed:
                raise SessionClosed("the session was closed")
            try:
                return await self.send(start, *args, **kwargs)
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
        return f"<AsyncBridge {self.core!r}>"
