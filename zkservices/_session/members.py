"""Sequential registration nodes (ServerSet members): created exactly once.

A sequential node cannot be created again at its path, and a create whose reply
was lost to connection trouble may still have happened on the server.  Retrying
blindly would leave two members for one address; :func:`create_member` looks
for such a lost create (a member of this session with the same data that no
registration owns) before trying again, adopts it and deletes any extra one.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kazoo.exceptions import NoNodeError

from .._znode.paths import join
from .core import SessionCore
from .retry import authorized

__all__ = ["create_member", "find_own_member"]

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
    parent, _, prefix = node.prefix.rpartition("/")
    parent = parent or "/"
    names = [n for n in client.get_children(parent) if n.startswith(prefix) and join(parent, n) not in owned]
    pending = [(join(parent, n), client.get_async(join(parent, n))) for n in sorted(names)]
    found = None
    for path, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:
            continue
        if stat.ephemeralOwner != core.session_id or data != node.data:
            continue
        if found is None:
            found = path
            log.info("adopted %s (created by an earlier attempt whose reply was lost)", path)
        else:
            log.warning("deleting %s: a duplicate member of this session", path)
            try:
                client.delete(path)
            except NoNodeError:
                pass
    return found
