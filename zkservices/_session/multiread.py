"""Many reads in one request: ZooKeeper's multi-read (opcode 22, servers 3.6 and later).

kazoo's connection thread handles one request and one reply per turn of its loop; a
10,000-node export read with a ``get_async`` per node spends nearly all its time
there (~0.2-0.3 ms a request on this 2-core machine), however well the requests are
pipelined.  ZooKeeper answers a *multi-read* -- ``getData`` and ``getChildren``
operations in one request -- with one reply holding every result, each its own
success or error (unlike a transaction, one missing node fails only its own
operation).  A batch of 500 reads costs kazoo one turn instead of 500 (measured:
10,000 reads in 0.07-0.13 s against 2.7-3.0 s with pipelined ``get_async``).

A :class:`~zkservices._session.pipe.Burst` gathers consecutive plain reads (no
watch) into one :class:`MultiRead` and completes each read's own result from the
reply through a :class:`Spread`: callers see exactly what kazoo's ``get_async`` and
``get_children_async`` give -- ``(data, stat)``, the list of names, or kazoo's own
exception (``NoNodeError``, ``NoAuthError``) for that read alone.  A server that does
not know the request (before 3.6) answers ``UNIMPLEMENTED``: the client is then
marked (:func:`refuse`; one INFO line) and the reads are queued again one request
each, as they will be from then on.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Protocol, Sequence

from kazoo.exceptions import UnimplementedError, ZookeeperError

from .kazoo_internals import decode_reads, encode_reads

__all__ = ["Completion", "MultiRead", "Spread", "MULTI_READ_AT_MOST", "multi_reads", "refuse"]

log = logging.getLogger("zkservices.session")

#: Reads per multi-read at most (the reply holds all their data at once).
MULTI_READ_AT_MOST = 500

#: Clients whose server answered a multi-read with UNIMPLEMENTED.
_NO_MULTI_READS: "weakref.WeakSet[Any]" = weakref.WeakSet()


class Completion(Protocol):
    """What a piped request's result is: kazoo's connection thread calls one of these."""

    def set(self, value: Any = None) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


def multi_reads(client: Any) -> bool:
    """Whether reads of ``client`` are gathered into multi-reads (not refused by its server)."""
    return client not in _NO_MULTI_READS


def refuse(client: Any) -> None:
    """Send ``client``'s reads one request each from now on (its server does not know multi-reads)."""
    _NO_MULTI_READS.add(client)


class MultiRead:
    """The multi-read request: ``getData`` and ``getChildren`` of kazoo's plain read
    requests (``GetData``/``GetChildren`` without a watch), as kazoo's connection sends
    requests.  Its reply is the list of the reads' outcomes, in order: ``(data, stat)``,
    a list of names, or kazoo's exception for that read."""

    type = 22

    __slots__ = ("requests",)

    def __init__(self, requests: Sequence[Any]) -> None:
        self.requests = requests

    def serialize(self) -> bytes:
        return encode_reads(self.requests)

    @staticmethod
    def deserialize(buffer: bytes, offset: int) -> list[Any]:
        return decode_reads(buffer, offset)

    def __repr__(self) -> str:
        return f"MultiRead({len(self.requests)} reads)"


class Spread:
    """The result of a :class:`MultiRead`: completes each read's own result.

    Runs on kazoo's connection thread (quick, never raises).  An error of the whole
    request (a lost connection) fails every read with it; ``UNIMPLEMENTED`` refuses
    multi-reads for the client and queues the reads again one by one.
    """

    __slots__ = ("client", "requeue", "pairs", "finished")

    def __init__(self, client: Any, requeue: Callable[[list[tuple[Any, Completion]]], None],
                 pairs: list[tuple[Any, Completion]]) -> None:
        self.client = client
        self.requeue = requeue  # the pipe's flush: the reads again, one request each
        self.pairs = pairs
        self.finished = False

    def set(self, value: Any = None) -> None:
        if self.finished:
            return
        self.finished = True
        outcomes = value if isinstance(value, list) else []
        for (_, result), outcome in zip(self.pairs, outcomes):
            if isinstance(outcome, Exception):
                result.set_exception(outcome)
            else:
                result.set(outcome)
        if len(outcomes) < len(self.pairs):  # never seen: a server answering fewer reads than asked
            for _, result in self.pairs[len(outcomes):]:
                result.set_exception(ZookeeperError(f"multi-read answered {len(outcomes)} of {len(self.pairs)} reads"))

    def set_exception(self, exception: BaseException) -> None:
        if self.finished:
            return
        self.finished = True
        if isinstance(exception, UnimplementedError):
            refuse(self.client)
            log.info("the server does not know multi-reads (ZooKeeper before 3.6): reads go one request each")
            try:
                self.requeue(self.pairs)
                return
            except Exception as exc:  # pragma: no cover - flush fails its pairs itself
                exception = exc
        for _, result in self.pairs:
            result.set_exception(exception)

    def __repr__(self) -> str:
        return f"<Spread {len(self.pairs)} reads{' done' if self.finished else ''}>"
