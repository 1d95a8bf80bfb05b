"""Registering and unregistering, as steps: a registration written (:func:`registering`),
unregistered by path and address (:func:`unregistering`) or by its handle
(:func:`forgetting`); below them a node replacing another session's, a sequential
member created exactly once, and a registration's nodes deleted.

The registrations live in a table (the session's registrar, given as ``table``):
a registration is recorded there before its nodes are written -- from then on a
session loss restores it -- and leaves it before its nodes are deleted, so it never
comes back.  Unregistering tries every node even when one delete fails (the nodes
have left the table: one not tried would stay, never restored nor deleted), then
raises the first failure.

A sequential node cannot be created again at its path, and a create whose reply
was lost to connection trouble may still have happened on the server.  Retrying
blindly would leave two members for one address; :func:`create_member` looks
for such a lost create (a member of this session with the same data that no
registration owns) before trying again, adopts it and deletes any extra one.

``node`` is a registration's node (``path``, ``data``, ``acl``, ``ephemeral``;
sequential ones ``prefix`` and ``lock``); ``session()`` gives the session's id now
(it changes when the session is replaced).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from .._znode.paths import join
from .curator import check_curator_directory
from .links import resolve
from .requests import Again, Acquire, Commit, Step, authorized, children, create, delete, exists, get, get_many, set_data
from .writes import resolve_or_create

__all__ = [
    "Table", "registering", "unregistering", "forgetting", "deleting",
    "put_node", "create_member", "find_own_member", "member_parent", "candidates", "choose_member",
]

log = logging.getLogger("zkservices.registration")

Session = Callable[[], "int | None"]


class Table(Protocol):
    """The registrations of a session (the registrar's table), as the steps use it."""

    def record(self, plan: Any, real_path: str, *, acl: Sequence[Any] | None = None) -> Any:
        """A registration of ``plan`` below ``real_path``, entered (its nodes not written yet)."""

    def created(self, node: Any, path: str) -> None:
        """``node`` exists at ``path`` as this session's."""

    def owned_paths(self) -> set[str]:
        """The paths the registrations own now."""

    def forget_nodes(self, nodes: Iterable[Any]) -> list[str]:
        """``nodes`` leave the table; the paths to delete."""

    def forget_known(self, path: str, address: Any) -> list[str] | None:
        """Registrations made at ``path`` for ``address`` leave the table; the paths to
        delete, or None when there were none."""

    def forget_at(self, real_path: str, address: Any) -> list[str]:
        """The nodes ``address`` has below ``real_path`` leave the table; their paths."""


def registering(table: Table, plan: Any, properties: Mapping[str, Any], *, acl: Sequence[Any] | None,
                default_acl: Any, session: Session) -> Step[Any]:
    """Register ``plan`` (``path``, ``format``): resolve (or create) its providers node,
    check a Curator directory, record it in ``table`` and create its nodes; the
    registration.  Whatever fails or interrupts it once recorded unregisters it again.
    ``acl``: the nodes' (None: the table's default); ``default_acl``: missing parents'."""
    real = yield from resolve_or_create(plan.path, acl=default_acl)
    if plan.format.name == "zkservices":
        yield from check_curator_directory(real, properties)
    registration = table.record(plan, real, acl=acl)
    try:
        for node in registration.nodes:
            if node.prefix is not None:
                path = yield from create_member(node, session, owned=table.owned_paths)
            else:
                path = yield from put_node(node, session)
            table.created(node, path)
    except GeneratorExit:  # closed unfinished (no round trip possible now): out of the table at least
        registration.active = False
        table.forget_nodes(registration.nodes)
        raise
    except BaseException:
        yield from forgetting(table, registration)
        raise
    return registration


def unregistering(table: Table, path: str, address: Any) -> Step[None]:
    """Unregister ``address`` at ``path``: registrations made at ``path`` leave ``table``
    before any round trip; otherwise ``path`` is resolved first.  Then the deletes
    (:func:`deleting`)."""
    paths = table.forget_known(path, address)
    if paths is None:
        paths = table.forget_at((yield from resolve(path)), address)
    yield from deleting(paths)


def forgetting(table: Table, registration: Any) -> Step[None]:
    """Unregister ``registration`` (idempotent): out of ``table``, then its nodes deleted."""
    if not registration.active:
        return
    registration.active = False
    yield from deleting(table.forget_nodes(registration.nodes))


def deleting(paths: Iterable[str]) -> Step[None]:
    """Delete ``paths`` one by one, each retried through connection trouble; a node gone
    already (or with its session) counts as deleted.  A failed delete does not stop the
    others; the first failure is raised at the end (NotAuthorized for a refusal)."""
    failure: Exception | None = None
    for path in paths:
        try:
            with authorized("delete", path):
                yield delete(path)
            log.info("unregistered %s", path)
        except NoNodeError:
            pass
        except Exception as exc:
            log.warning("could not delete %s: %s", path, exc)
            failure = failure or exc
    if failure is not None:
        raise failure


def put_node(node: Any, session: Session) -> Step[str]:
    """Create the (not sequential) ``node`` as ours, replacing a node of another
    session; its path.  Each round trip retried by the driver; raises NotAuthorized."""
    while True:
        try:
            with authorized("create", node.path):
                yield create(node.path, node.data, acl=node.acl, ephemeral=node.ephemeral, makepath=True)
            return str(node.path)
        except NodeExistsError:
            pass
        try:
            data, stat = yield get(node.path)
        except NoNodeError:
            continue
        if stat.ephemeralOwner == (session() if node.ephemeral else 0) and data == node.data:
            return str(node.path)
        if stat.ephemeralOwner == session():
            if data != node.data:
                yield set_data(node.path, node.data)
            return str(node.path)
        log.warning("%s exists under another session (0x%x); replacing it", node.path, stat.ephemeralOwner)

        def replace(client: Any, stat: Any = stat) -> Any:
            transaction = client.transaction()
            transaction.delete(node.path, version=stat.version)
            transaction.create(node.path, node.data, acl=node.acl, ephemeral=node.ephemeral)
            return transaction

        with authorized("replace", node.path):
            results = yield Commit(replace)
        if not any(isinstance(r, Exception) for r in results):
            return str(node.path)
        if not any(isinstance(r, (BadVersionError, NoNodeError, NodeExistsError)) for r in results):
            with authorized("replace", node.path):
                raise next(r for r in results if isinstance(r, Exception))
        # someone raced us: look again


def create_member(node: Any, session: Session, *, uncertain: bool = False,
                  owned: Callable[[], set[str]]) -> Step[str]:
    """Create the sequential ``node`` (``prefix``, ``data``, ``acl``, ``path``, ``lock``);
    its path.  Each attempt is one step, started over after connection trouble, and
    holds ``node.lock`` (the restore after a session loss takes it too).

    A ``node.path`` that exists as this session's node is kept.  One that exists under
    another session (our old one, not reaped yet) is deleted first.  ``uncertain``:
    an earlier create may have happened unseen, look for it before creating (every
    attempt after the first does).  ``owned()`` gives the paths registrations own.
    """
    tried = uncertain

    def attempt() -> Step[str]:
        nonlocal tried
        yield Acquire(node.lock)
        try:
            now = session()
            if node.path is not None:
                stat = yield exists(node.path)
                if stat is not None and stat.ephemeralOwner == now:
                    return str(node.path)
                if stat is not None:
                    try:
                        yield delete(node.path, stat.version)
                    except NoNodeError:
                        pass
            if tried:
                found = yield from find_own_member(node, now, owned())
                if found is not None:
                    return found
            tried = True
            with authorized("create", node.prefix):
                return str((yield create(node.prefix, node.data, acl=node.acl, ephemeral=True, sequence=True,
                                         makepath=True)))
        finally:
            node.lock.release()

    return (yield Again(attempt))


def find_own_member(node: Any, session_id: int | None, owned: set[str]) -> Step[str | None]:
    """A member of this session with ``node``'s data whose path is not in ``owned``;
    extra ones are deleted.  None when there is none."""
    paths = candidates(node, (yield children(member_parent(node))), owned)
    found, extra = choose_member(node, session_id, (yield from get_many(paths)))
    for path in extra:
        try:
            yield delete(path)
        except NoNodeError:
            pass
    return found


def member_parent(node: Any) -> str:
    """The directory a sequential ``node`` is created in."""
    return str(node.prefix.rpartition("/")[0] or "/")


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
