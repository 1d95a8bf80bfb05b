"""Sequential registration nodes (ServerSet members): created exactly once.

A sequential node cannot be created again at its path, and a create whose reply
was lost to connection trouble may still have happened on the server.  Retrying
blindly would leave two members for one address; :func:`create_member` looks
for such a lost create (a member of this session with the same data that no
registration owns) before trying again, adopts it and deletes any extra one.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from kazoo.exceptions import NoNodeError

from .._znode.paths import join
from .core import SessionCore
from .retry import authorized

__all__ = ["create_member", "find_own_member", "member_parent", "candidates", "choose_member"]

log = logging.getLogger("zkservices.registration")


def create_member(
    core: SessionCore, node: Any, retry: Any, *, uncertain: bool = False, owned: Callable[[], set[str]]
) -> str:
    """Create the sequential ``node`` (``prefix``, ``data``, ``acl``, ``path``, ``lock``)
    through ``retry``; return its path.

    A ``node.path`` that exists as this session's node is kept.  One that exists under
    another session (our old one, not reaped yet) is deleted first.  ``uncertain``:
    an earlier create may have happened unseen, look for it before creating (every
    attempt after the first does).  ``owned()`` gives the paths registrations own.
    """
    client = core.client
    tried = uncertain

    def attempt() -> str:
        nonlocal tried
        with node.lock:
            session = core.session_id
            if node.path is not None:
                stat = client.exists(node.path)
                if stat is not None and stat.ephemeralOwner == session:
                    return node.path
                if stat is not None:
                    try:
                        client.delete(node.path, version=stat.version)
                    except NoNodeError:
                        pass
            if tried:
                found = find_own_member(core, node, owned())
                if found is not None:
                    return found
            tried = True
            with authorized("create", node.prefix):
                return client.create(node.prefix, node.data, acl=node.acl, ephemeral=True, sequence=True,
                                     makepath=True)

    return retry(attempt)


def find_own_member(core: SessionCore, node: Any, owned: set[str]) -> str | None:
    """A member of this session with ``node``'s data whose path is not in ``owned``;
    extra ones are deleted.  None when there is none."""
    client = core.client
    parent = member_parent(node)
    pending = [(path, client.get_async(path)) for path in candidates(node, client.get_children(parent), owned)]
    reads = []
    for path, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:
            continue
        reads.append((path, data, stat))
    found, extra = choose_member(node, core.session_id, reads)
    for path in extra:
        try:
            client.delete(path)
        except NoNodeError:
            pass
    return found


def member_parent(node: Any) -> str:
    """The directory a sequential ``node`` is created in."""
    return node.prefix.rpartition("/")[0] or "/"


def candidates(node: Any, names: Iterable[str], owned: set[str]) -> list[str]:
    """The paths among ``names`` (children of :func:`member_parent`) that may be
    ``node``'s create whose reply was lost: its prefix, owned by no registration; sorted."""
    parent = member_parent(node)
    prefix = node.prefix.rpartition("/")[2]
    return [join(parent, n) for n in sorted(names) if n.startswith(prefix) and join(parent, n) not in owned]


def choose_member(node: Any, session_id: int | None,
                  reads: Iterable[tuple[str, bytes, Any]]) -> tuple[str | None, list[str]]:
    """Of the candidates read, ``(path, data, stat)`` in order: the one to adopt (the
    first of this session with ``node``'s data) and the duplicates to delete."""
    found = None
    extra: list[str] = []
    for path, data, stat in reads:
        if stat.ephemeralOwner != session_id or data != node.data:
            continue
        if found is None:
            found = path
            log.info("adopted %s (created by an earlier attempt whose reply was lost)", path)
        else:
            log.warning("deleting %s: a duplicate member of this session", path)
            extra.append(path)
    return found, extra
