"""The two drivers of the sans-I/O steps (:mod:`zkservices._steps`): one blocking,
one awaiting.

:func:`run` makes a step's round trips with the session's kazoo calls: one call
through the retry policy (``core.retry``, or the policy given), many sent together
through a :class:`~zkservices._session.pipe.Burst` (one wake-up of kazoo, plain
reads as multi-reads).  :class:`AsyncDriver` makes them through the asyncio bridge:
one call with :meth:`~zkservices._session.bridge.AsyncBridge.call` (retried on the
loop), many with ``send`` (handed to kazoo together at the end of the loop's turn).
Either way a permanent error is thrown into the step where it yielded the request
(so is an interrupt or a cancellation, for the step's own clean-up), and a step run
``Again`` is started over as a whole after connection trouble.

Neither driver knows an algorithm; a new request kind is added to both or to none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Sequence, TypeVar

from ..errors import SessionClosed
from .._znode.stepping import advance
from .._steps.requests import Acquire, Again, Call, Commit, EventMark, Send, Step, Wait, WorkerMark
from .kazoo_internals import access
from .pipe import Burst, Pipe, Slot

__all__ = ["run", "AsyncDriver"]

T = TypeVar("T")


def run(core: Any, step: Step[T], *, retry: Callable[..., Any] | None = None) -> T:
    """Run ``step`` to its end on ``core`` (a SessionCore: its ``client``, ``retry``
    and ``worker``), blocking; its result.  ``retry``: the policy for single calls
    and ``Again`` (default ``core.retry``)."""
    return _Blocking(core, retry or core.retry).run(step, True)


class _Blocking:
    __slots__ = ("core", "retry", "_pipe")

    def __init__(self, core: Any, retry: Callable[..., Any]) -> None:
        self.core = core
        self.retry = retry
        self._pipe: Pipe | None = None

    def run(self, step: Step[T], retrying: bool) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            done, request = advance(step, value, error)
            if done:
                return request
            value = error = None
            try:
                value = self.make(request, retrying)
            except BaseException as exc:  # (an interrupt too: the step may clean up)
                error = exc

    def make(self, request: Any, retrying: bool) -> Any:
        client = self.core.client
        kind = request.__class__
        if kind is Call:
            fn = getattr(client, request.method)
            if retrying:
                return self.retry(fn, *request.args, **request.kwargs)
            return fn(*request.args, **request.kwargs)
        if kind is Send:
            return self.send(client, request.requests)
        if kind is Wait:
            return _outcomes(request.ticket)
        if kind is Commit:
            build = request.build
            return self.retry(lambda: build(client).commit()) if retrying else build(client).commit()
        if kind is Again:
            return self.retry(lambda: self.run(request.make(), False))
        if kind is Acquire:
            return request.lock.acquire()
        if kind is EventMark:
            marker = threading.Event()
            access(client).on_event_thread(marker.set)  # (at once where kazoo's handler cannot)
            return marker.wait(request.timeout)
        if kind is WorkerMark:
            try:
                self.core.worker.barrier(request.timeout)
            except (FutureTimeout, RuntimeError):  # worker busy (a slow callback, an outage) or stopped
                return False
            return True
        raise TypeError(f"not a request: {request!r}")

    def send(self, client: Any, requests: Sequence[Any]) -> list[Any]:
        if self._pipe is None:
            self._pipe = Pipe(client)
        burst = Burst(self._pipe)
        results = []
        try:
            for request in requests:
                if request.__class__ is Call:
                    start = getattr(client, request.method + "_async")
                    results.append(burst.send(start, request.args, request.kwargs, Slot()))
                else:
                    results.append(burst.send(request.build(client).commit_async, (), {}, Slot()))
        finally:  # (what was queued goes out, also when building a request failed)
            burst.flush()
        return results


def _outcomes(results: list[Any]) -> list[Any]:
    """The outcome of each result (a Slot or kazoo's own), in order: its value or its error."""
    if results:
        results[-1].wait()  # ZooKeeper answers in order: when the last is in, all are
    outcomes: list[Any] = []
    for result in results:
        result.wait()
        try:
            outcomes.append(result.get())
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


class AsyncDriver:
    """Run steps on the running loop through ``bridge`` (an AsyncBridge: its ``core``,
    ``call``, ``send`` and ``retry``)."""

    __slots__ = ("bridge",)

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge

    async def run(self, step: Step[T], retrying: bool = True) -> T:
        """Run ``step`` to its end, awaiting its round trips; its result."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, request = advance(step, value, error)
            if done:
                return request
            value = error = None
            try:
                value = await self.make(request, retrying)
            except BaseException as exc:  # (a cancellation too: the step may clean up)
                error = exc

    async def make(self, request: Any, retrying: bool) -> Any:
        bridge = self.bridge
        client = bridge.core.client
        kind = request.__class__
        if kind is Call:
            start = getattr(client, request.method + "_async")
            if retrying:
                return await bridge.call(start, *request.args, **request.kwargs)
            return await bridge.send(start, *request.args, **request.kwargs)
        if kind is Send:
            return [bridge.send(getattr(client, r.method + "_async"), *r.args, **r.kwargs) if r.__class__ is Call
                    else bridge.send(r.build(client).commit_async) for r in request.requests]
        if kind is Wait:
            return list(await asyncio.gather(*request.ticket, return_exceptions=True))
        if kind is Commit:
            build = request.build
            if retrying:
                return await bridge.retry(lambda: bridge.send(build(client).commit_async))
            return await bridge.send(build(client).commit_async)
        if kind is Again:
            return await bridge.retry(lambda: self.run(request.make(), False))
        if kind is Acquire:
            while not request.lock.acquire(blocking=False):  # (held by a thread: never while waiting for it)
                await asyncio.sleep(0.005)
            return True
        if kind is EventMark:
            marker: concurrent.futures.Future[None] = concurrent.futures.Future()
            try:
                access(client).on_event_thread(marker.set_result, None)
                await asyncio.wait_for(asyncio.wrap_future(marker), request.timeout)
            except (asyncio.TimeoutError, RuntimeError):
                return False
            return True
        if kind is WorkerMark:
            if bridge.core.closed:
                raise SessionClosed("the session was closed")
            try:
                await asyncio.wait_for(asyncio.wrap_future(bridge.core.worker.submit(lambda: None)), request.timeout)
            except (asyncio.TimeoutError, RuntimeError):  # worker busy or stopped
                return False
            return True
        raise TypeError(f"not a request: {request!r}")

    def __repr__(self) -> str:
        return f"<AsyncDriver {self.bridge!r}>"
