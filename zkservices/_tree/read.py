"""Reading many nodes at once, as a step: a breadth-first crawl with many requests in flight.

:func:`pipelined_read` keeps up to ``CHUNK * CHUNKS_IN_FLIGHT`` reads in
flight: a ``get`` per node, and a ``get_children`` only for nodes whose stat
says they have children (and the caller wants them listed).  A chunk's reads
leave together (a :class:`~zkservices._steps.requests.Send`: on the blocking
driver as one multi-read, :mod:`zkservices._session.multiread`, or one request
per read where the server does not know it; on the awaiting one in one turn of
the loop).  Nodes deleted while being read are left out.  The reserved
``/zookeeper`` node is never visited.  :func:`read_nodes` runs it as a whole,
started over after connection trouble.

:func:`exported` turns node data into the properties of a tree node, as
export shows them: data no tree form can hold becomes a ``string_value``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.security import ACL

from .._znode.encoding import decode
from .._steps.requests import Again, Send, Step, Wait, acls, children, get
from .emit import checked_property
from .rules import RESERVED_TOP_LEVEL
from .._types import Progress

if TYPE_CHECKING:  # pragma: no cover
    from kazoo.protocol.states import ZnodeStat

__all__ = ["Znode", "Progress", "pipelined_read", "read_nodes", "everything", "exported", "CHUNK", "CHUNKS_IN_FLIGHT"]

log = logging.getLogger("zkservices.tree")

CHUNK = 500  # read requests sent together
CHUNKS_IN_FLIGHT = 2  # so at most 1,000 reads in flight: two multi-reads (or 1,000 requests)

#: ``progress(phase, done, total)``: ``phase`` is ``'reading'`` or ``'writing'``, ``total`` None while unknown.


@dataclass
class Znode:
    """One node as read: its data and stat, and its children and ACL when they were read."""

    data: bytes
    stat: "ZnodeStat"
    children: list[str] | None = None  # None: not read
    acl: list[ACL] | None = None  # None: not read
    acl_version: int = -1


def pipelined_read(
    roots: Iterable[str],
    *,
    want_children: Callable[[str, Znode], bool],
    select: Callable[[str, list[str]], Iterable[str]],
    want_acl: Callable[[str], bool] = lambda path: False,
    skip: Callable[[str, Znode], bool] = lambda path, node: False,
    progress: Progress | None = None,
) -> Step[dict[str, Znode]]:
    """Read ``roots`` and what the callbacks select below them, pipelined (a step).

    After a node's ``get``: it is dropped if ``skip(path, node)``; its ACL is
    read if ``want_acl(path)``; its children are listed if it has any and
    ``want_children(path, node)``.  Of each listing, the names ``select``
    returns are read in turn.  Returns path -> :class:`Znode` for the nodes
    that exist; nodes that vanish while being read are left out.  Connection
    trouble is raised (:func:`read_nodes` starts over).
    """
    nodes: dict[str, Znode] = {}
    todo: deque[tuple[str, str]] = deque(("get", path) for path in roots)
    chunks: deque[tuple[list[tuple[str, str]], Any]] = deque()
    last_report = 0.0
    while todo or chunks:
        # Requests go out in chunks, two chunks in flight: while one chunk's
        # answers are handled, the next is on the wire.  Waiting once per
        # chunk (ZooKeeper answers in order: when its last answer is in, all
        # are) costs far less than waking up for every answer.
        while todo and len(chunks) < CHUNKS_IN_FLIGHT:
            chunk: list[tuple[str, str]] = []
            requests = []
            while todo and len(chunk) < CHUNK:
                kind, path = todo.popleft()
                requests.append(get(path) if kind == "get" else children(path) if kind == "children" else acls(path))
                chunk.append((kind, path))
            chunks.append((chunk, (yield Send(requests))))
        chunk, ticket = chunks.popleft()
        outcomes = yield Wait(ticket)
        for (kind, path), value in zip(chunk, outcomes):
            if isinstance(value, BaseException):
                if isinstance(value, NoNodeError):
                    nodes.pop(path, None)  # gone meanwhile (its listing may still be in flight)
                    continue
                if isinstance(value, NoAuthError) and not value.args:
                    # kazoo's NoAuthError carries no text: name the node the ACL refused
                    action = {"get": "reading", "children": "listing the children of"}.get(kind, "reading the ACL of")
                    raise NoAuthError(f"{action} {path}") from None
                raise value
            if kind == "get":
                data, stat = value
                node = Znode(data or b"", stat)
                if skip(path, node):
                    continue
                nodes[path] = node
                if want_acl(path):
                    todo.append(("acl", path))
                if stat.numChildren > 0 and want_children(path, node):
                    todo.append(("children", path))
                elif stat.numChildren == 0:
                    node.children = []
            elif kind == "children":
                listed = nodes.get(path)
                if listed is None:
                    continue
                node = listed
                names = sorted(value)
                if path == "/" and RESERVED_TOP_LEVEL in names:
                    names.remove(RESERVED_TOP_LEVEL)
                node.children = names
                prefix = path if path != "/" else ""
                todo.extend(("get", f"{prefix}/{name}") for name in select(path, names))
            else:
                with_acl = nodes.get(path)
                if with_acl is not None:
                    acl, acl_stat = value
                    with_acl.acl, with_acl.acl_version = list(acl), acl_stat.aversion
        if progress is not None and time.monotonic() - last_report > 0.1:
            last_report = time.monotonic()
            progress("reading", len(nodes), None)
    if progress is not None:
        progress("reading", len(nodes), len(nodes))
    return nodes


def everything(path: str, names: list[str]) -> list[str]:
    """A ``select`` for :func:`pipelined_read` that reads every child."""
    return names


def read_nodes(roots: Iterable[str], **options: Any) -> Step[dict[str, Znode]]:
    """:func:`pipelined_read` as a whole, started over (by the driver's retry policy) after connection trouble.

    ``options`` are :func:`pipelined_read`'s keyword arguments.
    """
    roots = list(roots)
    return (yield Again(lambda: pipelined_read(roots, **options)))


def exported(path: str, data: bytes, *, warn: bool = False) -> dict[str, Any]:
    """Node data as the properties of a tree node: decoded, unless no tree form can hold them.

    Other clients can store JSON objects the tree format refuses (``NaN``
    from Python's ``json.dumps``, empty or ``/`` keys, a link whose target is
    not a string, values nested too deeply) or JSON too deeply nested to
    decode.  Such data is exported as a ``string_value`` property holding its
    text, like data that is not a JSON object (with a WARNING naming the node
    when ``warn``).  Import compares server data through this same function,
    so importing the export over the unchanged node leaves the original data
    alone.
    """
    try:
        properties = decode(data)
        for key, value in properties.items():
            checked_property(path, key, value)
        return properties
    except (ValueError, RecursionError) as exc:
        problem = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    if warn:
        log.warning("%s: its data is JSON the tree format cannot hold (%s); exported as 'string_value'",
                    path, problem)
    return {"string_value": data.decode("utf-8", "replace")}
