"""Re-arming many watches in a few requests (ZooKeeper's SetWatches).

kazoo forgets every watcher when a connection drops or the session ends, and has no
way to set a watch but a read per node: re-arming 10,000 views costs 10,000 reads.
ZooKeeper's own clients re-arm with one ``SetWatches`` request per batch of paths:
the server sets a data watch on each path whose node did not change after
``relative_zxid`` (its ``mzxid``; ``pzxid`` for child watches) and fires the watch at
once -- a NodeDataChanged, NodeChildrenChanged or NodeDeleted event -- for each that
did.  Given the last zxid the client saw before the loss, nothing changed meanwhile
goes unnoticed: a change up to that zxid was notified before the reply that carried
it, a later one fires now.

kazoo has no public call for this: :func:`rewatch` adds the watchers to kazoo's
watcher tables (where kazoo's event dispatch finds them) and queues the request as
kazoo queues its own, through :mod:`~zkservices._session.kazoo_internals`.  Where a
kazoo lacks these (another version), it returns False and callers read the nodes
instead.

:class:`Watches` is the session core's bookkeeping for it: which connection (*epoch*)
a watch was armed on, the last zxid seen on each connection that ended, and the calls
that re-arm watches as of it or drop kazoo's watchers.  The core feeds it from its
state listener (before kazoo forgets its watchers); the views and the registrar use it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

from .kazoo_internals import access, encode_set_watches

__all__ = ["rewatch", "SetWatches", "Watches"]

log = logging.getLogger("zkservices.session")

_CHUNK_BYTES = 128 * 1024  # request size per SetWatches at most (the server allows 1 MB)

Watch = tuple[str, Callable[..., Any]]  # (path, watcher)


class SetWatches:
    """The SetWatches request (opcode 101), as kazoo's connection sends requests."""

    type = 101

    def __init__(self, relative_zxid: int, data: Sequence[str], exist: Sequence[str], child: Sequence[str]) -> None:
        self.relative_zxid = relative_zxid
        self.lists = (data, exist, child)

    def serialize(self) -> bytes:
        return encode_set_watches(self.relative_zxid, self.lists)

    def deserialize(self, buffer: bytes, offset: int) -> bool:
        return True  # the reply is a header only

    def __repr__(self) -> str:
        return f"SetWatches(relative_zxid=0x{self.relative_zxid:x}, {', '.join(str(len(p)) for p in self.lists)} paths)"


def supported(client: Any) -> bool:
    """Whether this kazoo client has what :func:`rewatch` uses."""
    return access(client).watchers


def rewatch(client: Any, relative_zxid: int, data: Sequence[Watch], child: Sequence[Watch],
            *, timeout: float = 30.0) -> bool:
    """Arm data watches (``data``) and child watches (``child``), each ``(path,
    watcher)`` with a path below the client's chroot, as of ``relative_zxid``.

    True once the server confirmed every request; False when it did not (connection
    trouble, an error, kazoo without the internals used): the caller must then read
    the nodes (a watcher added to kazoo's tables meanwhile is harmless: it refreshes).
    """
    if not supported(client):
        return False
    kazoo = access(client)
    chroot = client.chroot or ""
    requests: list[tuple[list[str], list[str]]] = []
    for watches, is_data in ((data, True), (child, False)):
        chunk: list[str] = []
        size = 0
        for path, watcher in watches:
            full = ((chroot + path).rstrip("/") or "/") if chroot else path
            kazoo.add_watcher(full, watcher, data=is_data)  # before the request: an event it fires finds the watcher
            chunk.append(full)
            size += len(full) + 4
            if size >= _CHUNK_BYTES:
                requests.append((chunk, []) if is_data else ([], chunk))
                chunk, size = [], 0
        if chunk:
            requests.append((chunk, []) if is_data else ([], chunk))
    pending = []
    for data_chunk, child_chunk in requests:
        pending.append(kazoo.call(SetWatches(relative_zxid, data_chunk, [], child_chunk)))
    ok = True
    for result in pending:
        try:
            result.get(timeout=timeout)
        except Exception as exc:  # connection trouble, or the server refused
            log.debug("SetWatches failed: %r", exc)
            ok = False
    # kazoo keeps the zxid of the last reply: the server's.  A server behind what the
    # client saw (a follower catching up, an ensemble restored from an older snapshot)
    # may hold older data than the views: they must read, not trust "unchanged".
    server_zxid = getattr(client, "last_zxid", 0) or 0
    if ok and server_zxid < relative_zxid:
        log.info("server at zxid 0x%x is behind the 0x%x this client saw: reading the watched nodes again",
                 server_zxid, relative_zxid)
        return False
    return ok


class Watches:
    """The watches of one session's client: connection epochs and bulk re-arming.

    ``epoch`` counts the connections lost (suspended or session lost): a watch armed
    while ``epoch`` was N was forgotten by kazoo when N ended, and :meth:`loss_zxid`
    says up to which zxid the client had seen then.  The session core calls
    :meth:`connection_up` and :meth:`connection_lost` from its state listener; nothing
    else does.
    """

    _HISTORY = 16  # ended connections whose last zxid is kept

    def __init__(self, client: Any) -> None:
        self._client = client
        self._epoch = 0
        self._live = False
        self._loss_zxids: dict[int, int] = {}  # epoch -> the last zxid seen on it

    @property
    def epoch(self) -> int:
        """How many times a connection was lost (suspended or session lost)."""
        return self._epoch

    def loss_zxid(self, epoch: int) -> int | None:
        """The last zxid the client saw before connection ``epoch`` ended (None: unknown,
        or not ended): every change after a read made then either was notified before
        that zxid's reply or has a larger zxid."""
        return self._loss_zxids.get(epoch)

    def forget_history(self) -> None:
        """Forget the zxids seen before earlier losses: the servers' history no longer
        continues them (a rebuilt or restored ensemble), so views read instead of
        re-arming as of them."""
        self._loss_zxids.clear()

    def rewatch(self, relative_zxid: int, data: Sequence[Watch], children: Sequence[Watch]) -> bool:
        """Re-arm data and child watches ``(path, watcher)`` in a few SetWatches requests
        (:func:`rewatch`), as of ``relative_zxid``: the server fires at once the watches
        of nodes changed after it.  True when the server confirmed them all on this
        connection; False (read the nodes instead) otherwise."""
        epoch = self._epoch
        if not self._live or not (data or children):
            return not (data or children)
        done = rewatch(self._client, relative_zxid, data, children)
        return done and epoch == self._epoch and self._live

    def forget(self, watcher: Callable[..., Any], paths: Iterable[str]) -> None:
        """Drop a one-shot kazoo watcher set on ``paths`` (releasing what it holds)."""
        # kazoo has no public way to drop a watcher; its tables are per path.
        chroot = self._client.chroot or ""
        keys: list[str] = []
        for path in paths:
            full = ((chroot + path).rstrip("/") or "/") if chroot else path
            keys += (path, full) if full != path else (path,)
        access(self._client).forget_watcher(watcher, keys)

    # -- fed by the session core (on kazoo's thread: never call kazoo here) --

    def connection_up(self) -> None:
        """A connection is up: watches armed from now on belong to the current epoch."""
        self._live = True

    def connection_lost(self) -> None:
        """The connection was lost (kazoo calls listeners before it forgets its watchers
        and, on LOST, its last zxid): the current epoch ends."""
        if self._live:
            self._live = False
            self._loss_zxids[self._epoch] = self._client.last_zxid or 0
            self._loss_zxids.pop(self._epoch - self._HISTORY, None)
            self._epoch += 1

    def __repr__(self) -> str:
        return f"<Watches epoch={self._epoch} {'live' if self._live else 'down'}>"
