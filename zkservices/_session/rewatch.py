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
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from .kazoo_internals import access, encode_set_watches

__all__ = ["rewatch", "SetWatches"]

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
