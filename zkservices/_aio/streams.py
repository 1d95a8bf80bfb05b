"""Streams of a view's changes for ``async for``: its states, or its states with the
change objects a synchronous callback receives.

A stream is a callback of a view of the session (refreshed on the session's worker
thread as every view is, re-armed after a session loss by the view registry) that
hands each new state to the stream's loop, where a waiting consumer resumes in the
same turn (a :class:`~zkservices._aio.wake.Wake`, not a future: one turn of the loop
less per change).  When the consumer is slower than the changes, intermediate states
are skipped: it always gets the latest.  A change object is computed between the
state yielded before and the state yielded now -- for a consumer that keeps up, the
very change a synchronous callback is given; for one that fell behind, everything
that changed since it last looked.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any, AsyncGenerator, AsyncIterator, Callable, TypeVar

from ..errors import CancelWatch
from .._session.viewbase import View
from .ops import AsyncOps
from .wake import Wake

__all__ = ["states", "with_changes"]

S = TypeVar("S")
C = TypeVar("C")


async def states(view: View, ops: AsyncOps, snapshot: Callable[[], S]) -> AsyncGenerator[S, None]:
    """Yield ``snapshot()`` of ``view`` now, then after every change (latest wins when
    behind).  The stream's callback is added on the session's worker (awaited, no
    executor) and removed when the iteration ends.

    :raises ValueError: the view is closed.
    """
    loop = asyncio.get_running_loop()
    latest: list[S] = []
    waiter: list[Wake | None] = [None]

    def deliver(state: S) -> None:  # a plain callback of the loop: the newest state replaces an unread one
        latest[:] = [state]
        wake = waiter[0]
        if wake is not None:
            wake.set()  # the consumer resumes now, not a turn of the loop later

    def callback(*_: Any) -> None:  # on the session's worker thread
        try:
            loop.call_soon_threadsafe(deliver, snapshot())
        except RuntimeError:
            if loop.is_closed():  # the stream's loop is gone: stop quietly
                raise CancelWatch() from None
            raise

    await ops.on_worker(view, callback)
    try:
        while True:
            if not latest:
                wake = waiter[0] = Wake(loop)
                try:
                    await wake
                finally:
                    waiter[0] = None
            yield latest.pop()
    finally:
        view.remove(callback)


async def with_changes(view: View, ops: AsyncOps, snapshot: Callable[[], S], empty: S,
                       between: Callable[[S, S], C]) -> AsyncIterator[tuple[S, C]]:
    """Yield ``(state, between(previous, state))`` for the states of :func:`states`; the
    first ``previous`` is ``empty``, as for a synchronous callback's first call."""
    previous = empty
    async with aclosing(states(view, ops, snapshot)) as stream:  # its callback goes when this ends
        async for state in stream:
            yield state, between(previous, state)
            previous = state
