"""The requests a sans-I/O step yields, as small objects, and what it is sent back.

A *step* is a generator: it yields a request, its driver makes the round trip and
sends the result back in (or throws the error in), until the step returns its
result.  The same step runs on the blocking driver (the session's kazoo calls, its
retry policy) and on the awaiting one (the asyncio bridge): the algorithm is written
once, the I/O twice -- as httpx splits ``BaseClient`` from ``Client`` and
``AsyncClient``.

- :class:`Call`: one kazoo call (``get``, ``exists``, ``set``, ...: the name of the
  blocking method, whose ``*_async`` twin the awaiting driver uses).  Retried through
  transient errors by the driver; a permanent error is thrown into the step.
- :class:`Commit`: a transaction, built on the client by ``build(client)``; its
  result is kazoo's list (an exception in it for each failed operation).
- :class:`Send` then :class:`Wait`: many calls or commits sent together and not
  retried one by one (the blocking driver pipes them with one wake-up of kazoo, as
  multi-reads where it can; the awaiting one hands them to kazoo at the end of the
  loop's turn); ``Send`` is answered at once with a ticket, ``Wait(ticket)`` with
  their outcomes in order, each a value or the exception.  A step keeps several
  sends in flight by waiting for the oldest; :func:`batch` is both at once.
- :class:`Again`: run the step ``make()`` returns as a whole, started over by the
  retry policy after connection trouble in any of its requests (which are then not
  retried one by one).
- :class:`Acquire`: take a lock other threads share (the step releases it).
- :class:`EventMark` and :class:`WorkerMark` (for settling): wait until kazoo's
  event thread, then the session's worker, have passed what is queued now; answered
  True, or False when ``timeout`` passed (or the worker stopped).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Generator, Iterator, NamedTuple, Sequence, TypeVar, Union

from kazoo.exceptions import NoAuthError, NoNodeError

from ..errors import NotAuthorized

__all__ = [
    "Call", "Commit", "Send", "Wait", "Again", "Acquire", "EventMark", "WorkerMark", "Request", "Step",
    "authorized", "batch", "get_many", "get", "exists", "children", "acls", "set_data", "create", "delete", "ensure_path", "set_acls",
]

T = TypeVar("T")


class Call(NamedTuple):
    """One kazoo call: ``client.<method>(*args, **kwargs)`` (or its ``*_async`` twin)."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class Commit(NamedTuple):
    """A transaction: ``build(client)`` makes it (not committed); answered with kazoo's results."""

    build: Callable[[Any], Any]


class Send(NamedTuple):
    """Send ``requests`` (calls and commits) together; answered with a ticket for :class:`Wait`."""

    requests: Sequence[Union[Call, Commit]]


class Wait(NamedTuple):
    """Wait for the requests of a :class:`Send`; answered with their outcomes (a value or the exception each)."""

    ticket: Any


class Again(NamedTuple):
    """Run the step ``make()`` as a whole, started over after connection trouble; answered with its result."""

    make: Callable[[], "Step[Any]"]


class Acquire(NamedTuple):
    """Take ``lock`` (a threading lock, shared with other threads): blocking, or
    polled without blocking the loop.  The step releases it itself."""

    lock: Any


class EventMark(NamedTuple):
    """Wait (at most ``timeout``) until kazoo's event thread ran what is queued on it now."""

    timeout: float


class WorkerMark(NamedTuple):
    """Wait (at most ``timeout``) until the session's worker ran what is queued on it now."""

    timeout: float


Request = Union[Call, Commit, Send, Wait, Again, Acquire, EventMark, WorkerMark]

#: A step returning ``T``: yields requests, is sent their results.
Step = Generator[Any, Any, T]


@contextmanager
def authorized(action: str, path: str) -> Iterator[None]:
    """Turn kazoo's NoAuthError (which carries no text) into NotAuthorized naming the node
    (around a request a step yields, as around a call)."""
    try:
        yield
    except NotAuthorized:
        raise
    except NoAuthError:
        raise NotAuthorized(path, action) from None


def batch(requests: Sequence[Union[Call, Commit]]) -> Step[list[Any]]:
    """Send ``requests`` together and wait for them: their outcomes, in order."""
    ticket = yield Send(requests)
    return (yield Wait(ticket))


def get_many(paths: Sequence[str]) -> Step[list[tuple[str, bytes, Any]]]:
    """Get ``paths`` sent together: ``(path, data, stat)`` of each that exists, in
    order (a node gone meanwhile is left out; any other error is raised)."""
    outcomes = yield from batch([get(path) for path in paths])
    found = []
    for path, outcome in zip(paths, outcomes):
        if isinstance(outcome, NoNodeError):
            continue
        if isinstance(outcome, BaseException):
            raise outcome
        found.append((path, outcome[0], outcome[1]))
    return found


def _call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(method, args, kwargs)


def get(path: str) -> Call:
    """``(data, stat)``; NoNodeError."""
    return Call("get", (path,), {})


def exists(path: str) -> Call:
    """The stat, or None."""
    return Call("exists", (path,), {})


def children(path: str) -> Call:
    """The child names; NoNodeError."""
    return Call("get_children", (path,), {})


def acls(path: str) -> Call:
    """``(acl, stat)``; NoNodeError."""
    return Call("get_acls", (path,), {})


def set_data(path: str, data: bytes, version: int = -1) -> Call:
    """The new stat; BadVersionError, NoNodeError."""
    return Call("set", (path, data, version), {})


def create(path: str, data: bytes = b"", *, acl: Any = None, ephemeral: bool = False, sequence: bool = False,
           makepath: bool = False) -> Call:
    """The path created; NodeExistsError, NoNodeError."""
    return _call("create", path, data, acl=acl, ephemeral=ephemeral, sequence=sequence, makepath=makepath)


def delete(path: str, version: int = -1) -> Call:
    """NoNodeError, BadVersionError, NotEmptyError."""
    return Call("delete", (path, version), {})


def ensure_path(path: str, acl: Any = None) -> Call:
    """Create ``path`` and its missing parents."""
    return Call("ensure_path", (path, acl), {})


def set_acls(path: str, acl: Sequence[Any], version: int = -1) -> Call:
    """The new stat; BadVersionError, NoNodeError."""
    return Call("set_acls", (path, list(acl), version), {})
