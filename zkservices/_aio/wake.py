"""An awaitable that resumes its task in the same turn of the loop that completes it.

An ``asyncio.Future`` completed by a callback from another thread
(``call_soon_threadsafe``) resumes the task awaiting it one turn of the loop later: the
future schedules the task's wake-up with ``call_soon``, and the loop polls its selector
once more before running it.  On this 2-core machine that turn costs 50-110 µs at the
median (the poll gives up the GIL, which kazoo's and the worker's threads take) -- a
third of a view change's hop from the session's worker to an ``async for``.

:class:`Wake` is what the task machinery asks of a future (``_asyncio_future_blocking``,
``add_done_callback``, ``result``, ``cancel``, ``get_loop``) and runs the waiting
task's wake-up at once when :meth:`Wake.set` is called -- which must therefore be
called by a plain callback of the loop (a handle from ``call_soon_threadsafe``), never
from inside a running task.  Cancelling the awaiting task works as with a future.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Callable, Generator

__all__ = ["Wake"]

_PENDING, _DONE, _CANCELLED = 0, 1, 2


class Wake:
    """A one-shot event for one awaiting task on ``loop``; ``set()`` (from a plain
    loop callback) resumes the task right away."""

    __slots__ = ("_loop", "_state", "_callbacks", "_asyncio_future_blocking")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._state = _PENDING
        self._callbacks: list[tuple[Callable[[Any], None], contextvars.Context | None]] = []
        self._asyncio_future_blocking = False

    # -- what a task asks of a future ---------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> None:
        if self._state == _CANCELLED:
            raise asyncio.CancelledError()
        if self._state == _PENDING:
            raise asyncio.InvalidStateError("the wake is not set yet")
        return None

    def exception(self) -> BaseException | None:
        self.result()
        return None

    def add_done_callback(self, fn: Callable[[Any], None], *, context: contextvars.Context | None = None) -> None:
        if self._state != _PENDING:
            self._loop.call_soon(fn, self, context=context)
        else:
            self._callbacks.append((fn, context))

    def remove_done_callback(self, fn: Callable[[Any], None]) -> int:
        kept = [(f, c) for f, c in self._callbacks if f != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def cancel(self, msg: Any = None) -> bool:
        if self._state != _PENDING:
            return False
        self._state = _CANCELLED
        callbacks, self._callbacks = self._callbacks, []
        for fn, context in callbacks:  # as a future does: the task's wake-up in the next turn
            self._loop.call_soon(fn, self, context=context)
        return True

    def __await__(self) -> Generator[Any, None, None]:
        if self._state == _PENDING:
            self._asyncio_future_blocking = True
            yield self  # the task adds its wake-up with add_done_callback
        return self.result()

    __iter__ = __await__

    # -- completing -----------------------------------------------------------------

    def set(self) -> None:
        """Complete the wake and run the awaiting task's wake-up now (a plain loop
        callback only: not from inside a task).  A second call does nothing."""
        if self._state != _PENDING:
            return
        self._state = _DONE
        callbacks, self._callbacks = self._callbacks, []
        for fn, context in callbacks:
            if context is None:
                fn(self)
            else:
                context.run(fn, self)

    def __repr__(self) -> str:
        return f"<Wake {('pending', 'set', 'cancelled')[self._state]}>"
