"""Moving a sans-I/O step on: the one loop every runner of steps shares.

A step is a generator that yields what it needs (a round trip, a question) and is
sent the answer, or has the error thrown in where it yielded.  :func:`advance` does
one move; the runners (answering link questions from plain functions or from other
steps, :mod:`zkservices._znode.links`; the blocking and the awaiting drivers of the
session) only say how a request is answered.
"""

from __future__ import annotations

from typing import Any, Generator

__all__ = ["advance"]


def advance(step: Generator[Any, Any, Any], value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Send ``value`` into ``step`` (or throw ``error`` into it): ``(False, request)``
    with what it yields next, or ``(True, result)`` when it returned.  What the step
    raises propagates."""
    try:
        return False, (step.send(value) if error is None else step.throw(error))
    except StopIteration as stop:
        return True, stop.value
