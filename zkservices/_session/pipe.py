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
the client's state); :meth:`Pipe.usable` says whether they are there, and without them
every call is a plain one.  Requests a lost connection leaves unanswered are failed
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
from kazoo.exceptions import ConnectionClosedError, SessionExpiredError
from kazoo.protocol.serialization import Exists, GetChildren, GetData
from kazoo.protocol.states import KeeperState

from .multiread import MULTI_READ_AT_MOST, Completion, MultiRead, Spread, multi_reads

__all__ = ["Burst", "Completion", "PIPED", "Pipe", "Slot"]

log = logging.getLogger("zkservices.session")

#: The kazoo methods whose request a pipe can queue: their result is set by kazoo's
#: connection thread with the reply itself, nothing chained to it.
PIPED = frozenset(getattr(KazooClient, name) for name in (
    "get_async", "get_children_async", "exists_async", "set_async", "delete_async"))

_REFUSED = (KeeperState.AUTH_FAILED, KeeperState.CLOSED, KeeperState.EXPIRED_SESSION)

#: The reads whose request for a canonical path without a watch is built here directly:
#: the chroot (as kazoo's code normalised it) before the path -- what kazoo's own code
#: builds, at a tenth of its cost (it normalises the chroot and the path every time).
_READS = {KazooClient.get_async: GetData, KazooClient.exists_async: Exists,
          KazooClient.get_children_async: GetChildren}

#: The requests a burst gathers into multi-reads (when they have no watch).
_GATHERED = (GetData, GetChildren)


class _Builder:
    """Stands in for the client while one of its ``*_async`` methods builds a request:
    its handler hands out the caller's result object and its ``_call`` keeps the
    request instead of queueing it; everything else is the client's."""

    __slots__ = ("client", "handler", "result", "request")

    def __init__(self, client: KazooClient, result: Any) -> None:
        self.client = client
        self.handler = self  # kazoo asks its handler for a result object: ours
        self.result = result
        self.request: Any = None

    def async_result(self) -> Any:
        return self.result

    def _call(self, request: Any, async_object: Any) -> None:
        self.request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class Pipe:
    """Queue requests of ``client`` in bursts: one wake-up of its connection thread each.

    Any number of threads may build and flush bursts (each its own).
    """

    def __init__(self, client: KazooClient) -> None:
        self.client = client
        root = self.build_with_kazoo(client.get_async, ("/",), {}, None).path  # the chroot, normalised
        self._root = root
        self._prefix = "" if root == "/" else root
        self._usable = self.usable

    @property
    def usable(self) -> bool:
        """Whether the kazoo internals a pipe needs are there (else every call is a plain one)."""
        client = self.client
        return (hasattr(client, "_queue") and hasattr(client, "_state")
                and hasattr(getattr(client, "_connection", None), "_write_sock"))

    def pipes(self, start: Callable[..., Any]) -> bool:
        """Whether ``start`` (a bound kazoo method) is one of this client's piped calls
        (none is where the pipe is not :attr:`usable`)."""
        return self._usable and getattr(start, "__self__", None) is self.client and getattr(start, "__func__", None) in PIPED

    def build(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              result: Completion) -> Any:
        """The request ``start(*args, **kwargs)`` would queue, completing ``result``.
        Raises what kazoo's method raises for bad arguments (TypeError, ValueError)."""
        if len(args) == 1 and not kwargs:
            kind = _READS.get(start.__func__)  # type: ignore[attr-defined]
            path = args[0]
            if kind is not None and path.__class__ is str and _canonical(path):
                return kind(self._prefix + path if path != "/" else self._root, None)
        return self.build_with_kazoo(start, args, kwargs, result)

    def build_with_kazoo(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         result: Completion | None) -> Any:
        """The request built by kazoo's own method (what :meth:`build` does for all but
        the plainest reads)."""
        builder = _Builder(self.client, result)
        start.__func__(builder, *args, **kwargs)  # type: ignore[attr-defined]
        return builder.request

    def flush(self, burst: Iterable[tuple[Any, Completion]]) -> None:
        """Queue the ``(request, result)`` pairs of ``burst`` and wake kazoo once for all.
        As kazoo's own call does: a client closed, expired or refused fails them at once."""
        client = self.client
        pairs = list(burst)
        if not pairs:
            return
        if client._state in _REFUSED:
            for request, result in pairs:  # kazoo's own call sets the error it would
                client._call(request, result)
            return
        queue = client._queue
        queue.extend(pairs)  # at once: kazoo's threads see all of them or none
        queued = len(pairs)
        if client._queue is not queue or client._state in _REFUSED:
            queued -= self._take_back(queue, pairs)  # a session loss came in between
            if not queued:
                return
        write_sock = client._connection._write_sock
        try:
            if write_sock is None:
                raise ConnectionClosedError("Connection has been closed")
            write_sock.sendall(b"\0" * queued)
        except Exception as exc:  # as kazoo's _call: the requests fail (a late reply is ignored)
            log.debug("waking kazoo's connection thread failed: %r", exc)
            for _, result in pairs:
                result.set_exception(ConnectionClosedError("Connection has been closed"))

    def _take_back(self, queue: Any, pairs: list[tuple[Any, Completion]]) -> int:
        """The session was lost while ``pairs`` were being queued: kazoo sets the state,
        fails what its queue holds, then replaces the queue.  What it did not see of
        ours would never be sent nor failed (a caller waiting on it would hang): take
        it back and fail it as kazoo fails its own; returns how many it took back."""
        client = self.client
        taken = 0
        for pair in pairs:
            try:
                queue.remove(pair)  # (results compare by identity: only this very pair)
            except ValueError:  # (the comparisons run no Python code: kazoo's threads wait meanwhile)
                continue  # kazoo has it: sent, or failed by kazoo itself
            taken += 1
            request, result = pair
            if client._state in _REFUSED:
                client._call(request, result)  # kazoo's own refusal (not queued)
            else:
                result.set_exception(SessionExpiredError())
        return taken

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
            if request.__class__ in _GATHERED and request.watcher is None and multi_reads(pipe.client):
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
