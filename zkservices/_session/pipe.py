"""Many kazoo requests handed to kazoo's connection thread with one wake-up.

Each kazoo ``*_async`` call appends its request to the client's queue and writes one
byte to a socket pair to wake the connection thread, which sends one request per
byte it reads.  That write is a system call that gives up the GIL: a burst of a
thousand calls costs a thousand of them, and each time the caller waits for the GIL
again while kazoo's threads hold it.  A :class:`Pipe` builds the requests of a burst
with kazoo's own ``*_async`` code (paths, chroot, checks: nothing is re-implemented),
appends them to the queue and writes all the wake-up bytes at once.

Only calls whose result kazoo's connection thread sets directly are piped
(:data:`PIPED`: reads, ``set_async``, ``delete_async``); their result object is the
caller's own (anything with ``set(value)`` and ``set_exception(exc)``), which kazoo's
connection thread completes -- so it must be quick and must not raise.  Everything
else (creates, transactions, ``ensure_path_async``) is made as a plain call by the
caller.  This leans on three of kazoo's internals (the request queue, the socket pair,
the client's state), reached only through
:func:`~zkservices._session.kazoo_internals.access`: :meth:`Pipe.usable` says whether
they are there, and without them every call is a plain one.  Requests a lost connection leaves unanswered are failed
by kazoo as its own are (ConnectionLoss, SessionExpiredError, ConnectionClosedError);
a burst queued just as kazoo replaces its queue after a session loss is taken back
and failed the same way (it would otherwise never be answered).

A :class:`Burst` also gathers consecutive plain reads into multi-reads
(:mod:`~zkservices._session.multiread`): one request, one reply and one turn of kazoo's
connection thread for up to 500 reads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable

from kazoo.client import KazooClient

from .kazoo_internals import access
from .multiread import MULTI_READ_AT_MOST, Completion, MultiRead, Spread, multi_reads

__all__ = ["Burst", "Completion", "PIPED", "Pipe", "Slot"]

log = logging.getLogger("zkservices.session")

#: The kazoo methods whose request a pipe can queue: their result is set by kazoo's
#: connection thread with the reply itself, nothing chained to it.
PIPED = frozenset(getattr(KazooClient, name) for name in (
    "get_async", "get_children_async", "exists_async", "set_async", "delete_async"))


class Pipe:
    """Queue requests of ``client`` in bursts: one wake-up of its connection thread each.

    Any number of threads may build and flush bursts (each its own).
    """

    def __init__(self, client: KazooClient) -> None:
        self.client = client
        self._access = access(client)
        self._usable = self.usable
        # (kazoo's own method, even where a test replaced the client's attribute)
        get_async = type(client).get_async.__get__(client)
        root = self.build_with_kazoo(get_async, ("/",), {}, None).path if self._usable else "/"
        self._root = root  # the chroot, normalised
        self._prefix = "" if root == "/" else root

    @property
    def usable(self) -> bool:
        """Whether the kazoo internals a pipe needs are there (else every call is a plain one)."""
        return self._access.pipe

    def pipes(self, start: Callable[..., Any]) -> bool:
        """Whether ``start`` (a bound kazoo method) is one of this client's piped calls
        (none is where the pipe is not :attr:`usable`)."""
        return self._usable and getattr(start, "__self__", None) is self.client and getattr(start, "__func__", None) in PIPED

    def gathers(self, request: Any) -> bool:
        """Whether ``request`` (built by :meth:`build`) may go in a multi-read: a plain
        read, on a client whose server and kazoo allow multi-reads."""
        return self._access.multi_reads and self._access.gathered(request) and multi_reads(self.client)

    def build(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              result: Completion) -> Any:
        """The request ``start(*args, **kwargs)`` would queue, completing ``result``.
        Raises what kazoo's method raises for bad arguments (TypeError, ValueError).

        The plainest reads (a canonical path, no watch) are built directly: the chroot
        (as kazoo's code normalised it) before the path -- what kazoo's own code builds,
        at a tenth of its cost (it normalises the chroot and the path every time)."""
        if len(args) == 1 and not kwargs:
            path = args[0]
            if path.__class__ is str and _canonical(path):
                request = self._access.read_request(start, self._prefix + path if path != "/" else self._root)
                if request is not None:
                    return request
        return self.build_with_kazoo(start, args, kwargs, result)

    def build_with_kazoo(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         result: Completion | None) -> Any:
        """The request built by kazoo's own method (what :meth:`build` does for all but
        the plainest reads)."""
        return self._access.build(start, args, kwargs, result)

    def flush(self, burst: Iterable[tuple[Any, Completion]]) -> None:
        """Queue the ``(request, result)`` pairs of ``burst`` and wake kazoo once for all.
        As kazoo's own call does: a client closed, expired or refused fails them at once."""
        pairs = list(burst)
        if pairs:
            self._access.enqueue(pairs)

    def __repr__(self) -> str:
        return f"<Pipe {'usable' if self.usable else 'plain calls only'} for {self.client!r}>"


def _canonical(path: str) -> bool:
    """Absolute, no empty, ``.``-led or trailing component: a path kazoo leaves as it is."""
    return path == "/" or (path[:1] == "/" and path[-1] != "/" and "//" not in path and "/." not in path)


_SLOT_LOCK = threading.Lock()  # a slot's waiter and its completion meet under it (briefly)


class Slot:
    """A piped request's result for a thread that waits: ``get()`` and ``wait()`` as
    kazoo's own result has them, without a condition of its own per request (an
    event is made only for a slot somebody waits on before it is set)."""

    __slots__ = ("value", "error", "ready", "_event")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.ready = False
        self._event: threading.Event | None = None

    def set(self, value: Any = None) -> None:
        self._finish(None, value)

    def set_exception(self, exception: BaseException) -> None:
        self._finish(exception, None)

    def _finish(self, error: BaseException | None, value: Any) -> None:
        with _SLOT_LOCK:
            if self.ready:  # a reply after the request was failed: ignored
                return
            self.value, self.error, self.ready = value, error, True
            event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the slot is set; whether it is."""
        with _SLOT_LOCK:
            if self.ready:
                return True
            event = self._event = self._event or threading.Event()
        return event.wait(timeout)

    def get(self) -> Any:
        """The value, or the error raised; the slot must be set (see :meth:`wait`)."""
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self) -> str:
        state = "pending" if not self.ready else ("failed" if self.error is not None else "set")
        return f"<Slot {state}>"


class Burst:
    """Calls one thread makes together: the piped ones queued (in order with the
    others) and sent with one wake-up by :meth:`flush`; the rest made at once.

    Consecutive plain reads (``get``/``get_children`` without a watch) go out as one
    :class:`~zkservices._session.multiread.MultiRead` of up to ``MULTI_READ_AT_MOST``
    (where the server knows it), each completing its own result.
    """

    __slots__ = ("pipe", "_pairs", "_reads")

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self._pairs: list[tuple[Any, Completion]] = []
        self._reads: list[tuple[Any, Completion]] = []  # plain reads not yet gathered into a multi-read

    def send(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             result: Completion) -> Any:
        """``start(*args, **kwargs)`` (a kazoo ``*_async`` method of the pipe's client):
        queued to complete ``result``, which is returned, where the pipe takes it; else
        made now (after the queued ones are handed over), returning kazoo's own result.
        Raises what kazoo raises for bad arguments."""
        pipe = self.pipe
        if pipe.pipes(start):
            request = pipe.build(start, args, kwargs, result)
            if pipe.gathers(request):
                reads = self._reads
                reads.append((request, result))
                if len(reads) >= MULTI_READ_AT_MOST:
                    self._gather()
            else:
                if self._reads:
                    self._gather()  # the reads before it go first
                self._pairs.append((request, result))
            return result
        self.flush()  # the ones before it go first
        return start(*args, **kwargs)

    def call(self, start: Callable[..., Any], *args: Any) -> Any:
        """``start(*args)`` for a thread that waits: a :class:`Slot` or kazoo's own
        result, either with ``wait()`` and ``get()``."""
        return self.send(start, args, {}, Slot())

    def _gather(self) -> None:
        reads, self._reads = self._reads, []
        if len(reads) == 1:
            self._pairs.append(reads[0])
        else:
            pipe = self.pipe
            self._pairs.append((MultiRead([request for request, _ in reads]), Spread(pipe.client, pipe.flush, reads)))

    def flush(self) -> None:
        """Hand the queued calls to kazoo: one wake-up of its connection thread."""
        if self._reads:
            self._gather()
        pairs, self._pairs = self._pairs, []
        self.pipe.flush(pairs)

    def __repr__(self) -> str:
        return f"<Burst {len(self._pairs) + len(self._reads)} queued>"
