"""Server registrations: ephemeral provider nodes that survive session loss.

A :class:`Registration` owns one node per address, in one of the formats of
:mod:`zkservices._formats` (zkservices' ``host:port`` nodes, Curator instances,
ServerSet members).  The :class:`Registrar` keeps
every live registration of a session in a table and registers two steps with the
session core: after a session loss it restores all of them -- one transaction per
providers node, so that watchers see a service's providers come back all at once --
before user calls go on; after a reconnection it re-arms the watches that follow each
node's data (an operator's change to a live registration survives expiry).

A node that is still on the server under another session (the old one not yet
reaped, or a stale process) is replaced, never skipped.  An unregistered server leaves
the table first, so it never comes back.

Sequential nodes (ServerSet members) cannot be re-created at their path: they are
restored one by one as a new member, and the registration follows the new name.  A
create whose reply was lost (connection trouble) may have happened: before trying
again, a member of this session with the same data that no registration owns is
adopted, so there is always exactly one member per registered address.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, Mapping, Sequence

from .._formats import Format
from .._steps.registering import deleting, forgetting, put_node, registering, unregistering
from .._steps.requests import Step
from .._znode.paths import Address, format_address, join, parse_address
from .._os.addresses import local_addresses
from .core import Recovery, SessionCore
from .drivers import run
from .members import create_member
from .registration import Node, Registration, RegistrationPlan, plan_registration
from .retry import RETRYABLE

__all__ = ["Registration", "Registrar", "address_names"]

log = logging.getLogger("zkservices.registration")

_TRANSACTION_OPS = 1000  # operations per restore transaction at most
_TRANSACTION_BYTES = 512 * 1024  # estimated request size per restore transaction at most


class Registrar:
    """The registrations of one session core, and their restoration (``shared_client``:
    the core's client outlives it, so closing deletes the ephemeral nodes itself)."""

    def __init__(self, core: SessionCore, *, shared_client: bool = False) -> None:
        self.core = core
        self._shared_client = shared_client
        self._nodes: dict[str, Node] = {}
        self._lock = threading.RLock()
        core.add_recovery_step("restore registrations", self._restore, before_ready=True)
        core.add_reconnect_step(self._retrack)
        core.add_close_step(self._close)

    # -- registering -------------------------------------------------------

    def register(
        self,
        path: str,
        address: Address,
        *,
        acl: Sequence[Any] | None = None,
        properties: Mapping[str, Any],
        format: str | Format | None = None,
    ) -> Registration:
        """Register provider nodes below ``path`` (created with its missing parents) in
        ``format`` (see :mod:`zkservices._formats`); with no host in ``address``, one per
        local address.

        Raises ValueError for a bad address, format or properties (nothing is written
        then), ValueTooLarge, InvalidPath.
        """
        registration: Registration = run(self.core, self.registering(path, address, acl=acl, properties=properties,
                                                                     format=format))
        self.core.settle()
        return registration

    def registering(self, path: str, address: Address, *, acl: Sequence[Any] | None,
                    properties: Mapping[str, Any], format: str | Format | None) -> Step[Registration]:
        """The step :meth:`register` runs (the asyncio front awaits it), its
        registration planned now: ValueError for a bad address, format or properties."""
        core = self.core
        plan = plan_registration(path, address, properties=properties, format=format)
        return registering(self, plan, properties, acl=acl, default_acl=core.default_acl(),
                           session=lambda: core.session_id)

    def record(self, plan: RegistrationPlan, real_path: str, *, acl: Sequence[Any] | None = None) -> Registration:
        """A :class:`Registration` of ``plan`` below the resolved ``real_path``, its nodes
        entered in the table at once -- restored after a session loss from now on --
        and not written yet (``acl``: default the core's)."""
        acl = list(acl) if acl is not None else self.core.default_acl()
        registration = Registration(self, plan.path, real_path, plan.format.name,
                                    any_host_port=plan.port if plan.any_host else None)
        nodes: list[Node] = []
        for h in plan.hosts:
            spec = plan.format.node(real_path, h, plan.port, plan.properties)
            node_path = join(real_path, spec.name)
            address = format_address(h, plan.port)
            if spec.sequential:
                nodes.append(Node(None, address, spec.data, acl, registration, prefix=node_path,
                                   key=f"{node_path}\0{id(registration):x}-{len(nodes)}"))
            else:
                nodes.append(Node(node_path, address, spec.data, acl, registration, ephemeral=spec.ephemeral,
                                   key=node_path))
        registration.nodes = tuple(nodes)
        with self._lock:
            for node in nodes:
                self._nodes[node.key] = node
        return registration

    def unregister(self, path: str, address: Address) -> None:
        """Remove a registration made by this session (same address forms as register).

        A registration made at ``path`` is taken out of the table at once, before any
        round trip (so it is not restored even if the connection is down now); other
        paths are resolved through links first.
        """
        run(self.core, unregistering(self, path, address))
        self.core.settle()

    def forget(self, registration: Registration) -> None:
        """``registration.unregister()``: out of the table, its nodes deleted (idempotent)."""
        run(self.core, forgetting(self, registration))
        self.core.settle()

    def unregister_paths(self, paths: Iterable[str]) -> None:
        """Forget the registrations at ``paths`` and delete their nodes (waiting through
        connection trouble; a node gone with its session counts as deleted)."""
        self._delete(self.forget_paths(paths))

    # -- the table (also for callers that send the round trips themselves: zkservices.aio)

    def owned_paths(self) -> set[str]:
        """The paths the registrations own now."""
        with self._lock:
            return set(self._nodes)

    def created(self, node: Node, path: str) -> None:
        """``node`` (of a registration :meth:`record` entered) exists at ``path`` as this
        session's: record a sequential node's path and follow its data, as :meth:`register` does."""
        if node.prefix is not None:
            self._place(node, path)
        self._follow(node)

    def _follow(self, node: Node) -> None:
        """A node just registered: follow its data, and say so."""
        self._track(node)
        log.info("registered %s at %s (%s)", node.address, node.path, node.registration.format)

    def forget_nodes(self, nodes: Iterable[Node]) -> list[str]:
        """Take ``nodes`` out of the table (never restored again); the paths to delete."""
        nodes = list(nodes)
        with self._lock:
            for node in nodes:
                self._nodes.pop(node.key, None)
        return [node.path for node in nodes if node.path is not None]

    def forget_known(self, path: str, address: Address) -> list[str] | None:
        """The table half of :meth:`unregister`: registrations made at ``path`` for
        ``address`` leave the table (inactive), before any round trip; the paths to
        delete, or None when there were none (then resolve ``path`` and use
        :meth:`forget_paths`).  No host takes the nodes a registration given no host made
        (one per local address then), as well as those of the local addresses now.
        Raises ValueError for a bad address."""
        host, port = parse_address(address)
        names = address_names(address)
        with self._lock:
            known = [n for n in self._nodes.values()
                     if (n.address in names or (not host and n.registration.any_host_port == port))
                     and path in (n.registration.path, n.registration.real_path)]
            for node in known:
                node.registration.active = False
        return self.forget_nodes(known) if known else None

    def forget_paths(self, paths: Iterable[str]) -> list[str]:
        """Take the registrations at ``paths`` out of the table (inactive); the paths to delete."""
        paths = list(paths)
        with self._lock:
            for path in paths:
                node = self._nodes.pop(path, None)
                if node is not None:
                    node.registration.active = False
        return paths

    def forget_at(self, real_path: str, address: Address) -> list[str]:
        """The nodes ``address`` makes below ``real_path`` (resolved) leave the table; their paths."""
        return self.forget_paths([join(real_path, name) for name in sorted(address_names(address))])

    def _delete(self, paths: list[str]) -> None:
        run(self.core, deleting(paths))
        self.core.settle()

    def written(self, path: str, data: bytes) -> None:
        """Remember data this session wrote to a registration node, for restoring it."""
        with self._lock:
            node = self._nodes.get(path)
            if node is not None:
                node.data = data

    def data_of(self, path: str) -> bytes | None:
        """The data a registration at ``path`` is restored with (None: not registered)."""
        with self._lock:
            node = self._nodes.get(path)
            return None if node is None else node.data

    def __len__(self) -> int:
        return len(self._nodes)

    # -- one node ----------------------------------------------------------

    def _put(self, node: Node, retry: Any) -> None:
        """Create ``node`` as ours, replacing a node of another session."""
        if node.prefix is not None:
            self._put_member(node, retry)
            return
        core = self.core
        run(core, put_node(node, lambda: core.session_id), retry=retry)

    def _put_member(self, node: Node, retry: Any, *, uncertain: bool = False) -> None:
        """Create the sequential ``node`` as a new member unless it exists as ours (see
        :func:`~zkservices._session.members.create_member`), and record its path."""

        self._place(node, create_member(self.core, node, retry, uncertain=uncertain, owned=self.owned_paths))

    def _place(self, node: Node, path: str) -> None:
        """Record the path a sequential node was created at."""
        with self._lock:
            if self._nodes.get(node.key) is node:
                del self._nodes[node.key]
                if node.registration.active:
                    self._nodes[path] = node
            node.path = node.key = path

    def _track(self, node: Node) -> None:
        """Follow the registration node's data, whoever changes it.

        The watcher only re-arms with a non-blocking ``get_async``; the result is taken
        on kazoo's completion thread.  Connection loss drops kazoo's watchers: the
        reconnect step tracks again.
        """
        core = self.core
        client = core.client
        watcher = self._watcher_of(node)
        path = node.path
        if not node.registration.active or core.closed or path is None:
            return
        try:
            result = client.get_async(path, watch=watcher)
        except Exception:  # closed, or no connection: the reconnect step tracks again
            return

        def done(result: Any) -> None:
            try:
                data, stat = result.get()
            except Exception:
                return
            if (stat.ephemeralOwner == (core.session_id if node.ephemeral else 0) and node.registration.active
                    and node.path == path and data != node.data):
                log.info("registration %s now holds %s", path, data.decode("utf-8", "replace"))
                node.data = data

        result.rawlink(done)

    def _watcher_of(self, node: Node) -> Any:
        watcher = node.watcher
        if watcher is None:

            def watcher(event: Any) -> None:
                if event.type != "NONE":  # NONE: connection trouble, handled by the steps
                    self._track(node)

            node.watcher = watcher
        return watcher

    def _track_created(self, nodes: list[Node]) -> None:
        """Track nodes just created in one transaction without reading each: their data is
        what we wrote; one SetWatches as of the transaction's zxid (a node's ``czxid``)
        arms a watch on each, fired at once for a node changed since."""
        core = self.core
        first = nodes[0]
        try:
            stat = core.client.exists(str(first.path))
        except Exception:
            stat = None
        if (stat is None or stat.ephemeralOwner != core.session_id
                or not core.watches.rewatch(stat.czxid, [(str(n.path), self._watcher_of(n)) for n in nodes], [])):
            for node in nodes:
                self._track(node)

    def _active_nodes(self) -> list[Node]:
        with self._lock:
            return [n for n in self._nodes.values() if n.registration.active]

    def _retrack(self) -> None:
        for node in self._active_nodes():
            self._track(node)

    # -- after a session loss ------------------------------------------------

    def _restore(self, recovery: Recovery) -> None:
        nodes = [n for n in self._active_nodes() if n.ephemeral]
        if not nodes:
            return
        fixed = [n for n in nodes if n.prefix is None]
        try:
            if fixed:
                recovery.retry(self._restore_once, fixed, recovery)
            for node in nodes:
                if node.prefix is not None and recovery.current and node.registration.active:
                    old = node.name
                    self._put_member(node, recovery.retry)
                    log.info("re-registered %s at %s (was %s)", node.address, node.path, old)
                    self._track(node)
        finally:
            # An unregister (or close) that raced the restore: take the node away again.
            for node in nodes:
                if not node.registration.active and node.path is not None:
                    try:
                        self.core.client.delete(node.path)
                    except Exception:  # gone already, or the session with it
                        pass
        log.info("%d registration(s) restored", len(nodes))

    def _restore_once(self, nodes: list[Node], recovery: Recovery) -> None:
        """Re-create ``nodes`` in one transaction per providers node (pipelined), assuming
        they went with the old session; a transaction that finds one there (another
        session's, or ours from an attempt whose reply was lost) is done again with a
        look first (:meth:`_restore_checked`)."""
        created, failed = self._commit([(node, None) for node in nodes], "looking first")
        if failed:
            self._restore_checked(failed, recovery)
        for group in created:
            self._track_created(group)

    def _restore_checked(self, nodes: list[Node], recovery: Recovery) -> None:
        """Re-create ``nodes`` after looking at what is there: a node that is ours already
        is kept, one of another session replaced (one transaction per providers node); what
        a transaction cannot do (a parent deleted meanwhile, a race) goes one by one."""
        core = self.core
        session = core.session_id
        pending = [(node, core.client.exists_async(node.path)) for node in nodes]
        items = []
        for node, result in pending:
            stat = result.get()  # transient errors: the whole restore is retried
            if stat is None or stat.ephemeralOwner != session:  # else ours already (a racing register)
                items.append((node, stat))
        _, slow = self._commit(items, "one by one")
        for node in slow:
            if not recovery.current or not node.registration.active:
                continue
            self._put(node, recovery.retry)
            log.info("re-registered %s at %s (new session 0x%x)", node.address, node.path, session or 0)
        for node in nodes:
            self._track(node)

    def _commit(self, items: list[tuple[Node, Any]], fallback: str) -> tuple[list[list[Node]], list[Node]]:
        """Create the nodes of ``(node, stat)`` items in transactions per providers node, sent
        pipelined (a node with a stat, another session's, is deleted first); return the
        groups created and the nodes of the transactions that failed."""
        client = self.core.client
        session = self.core.session_id
        by_parent: dict[str, list[tuple[Node, Any]]] = {}
        for item in items:
            by_parent.setdefault(str(item[0].path).rpartition("/")[0] or "/", []).append(item)
        commits = []
        for group in by_parent.values():
            for chunk in _chunks(group):
                transaction = client.transaction()
                for node, stat in chunk:
                    if stat is not None:
                        log.warning("%s exists under another session (0x%x); replacing it",
                                    node.path, stat.ephemeralOwner)
                        transaction.delete(node.path, version=stat.version)
                    transaction.create(node.path, node.data, acl=node.acl, ephemeral=True)
                commits.append(([node for node, _ in chunk], transaction.commit_async()))
        created: list[list[Node]] = []
        failed: list[Node] = []
        for nodes, result in commits:
            results = result.get()
            if any(isinstance(r, RETRYABLE) for r in results):
                raise next(r for r in results if isinstance(r, RETRYABLE))
            if any(isinstance(r, Exception) for r in results):
                log.debug("restore transaction for %s failed (%s); %s", str(nodes[0].path).rpartition("/")[0],
                          next(r for r in results if isinstance(r, Exception)), fallback)
                failed.extend(nodes)
                continue
            for node in nodes:
                log.info("re-registered %s at %s (new session 0x%x)", node.address, node.path, session or 0)
            created.append(nodes)
        return created, failed

    def _close(self) -> None:
        with self._lock:
            nodes = list(self._nodes.values())
            self._nodes.clear()
        # Mark them unregistered: a restore running after a session loss must not
        # re-create them, and a later unregister() has nothing left to do.
        for node in nodes:
            node.registration.active = False
        if not self._shared_client:
            return  # closing the session removes its ephemeral nodes
        for node in nodes:  # a wrapped client lives on: delete them ourselves
            if not node.ephemeral or node.path is None:
                continue  # persistent ones (Curator STATIC, PERMANENT) stay
            try:
                self.core.client.delete(node.path)
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"<Registrar {len(self._nodes)} node(s)>"


def address_names(address: Address) -> set[str]:
    """The ``host:port`` names registering ``address`` makes (one per local address
    without a host).  Raises ValueError for a bad address."""
    host, port = parse_address(address)
    return {format_address(h, port) for h in ([host] if host else local_addresses())}


def _chunks(group: list[tuple[Node, Any]]) -> Iterable[list[tuple[Node, Any]]]:
    chunk: list[tuple[Node, Any]] = []
    ops = size = 0
    for item in group:
        node, stat = item
        cost = 1 + (stat is not None)
        weight = len(str(node.path)) * cost + len(node.data) + 64
        if chunk and (ops + cost > _TRANSACTION_OPS or size + weight > _TRANSACTION_BYTES):
            yield chunk
            chunk, ops, size = [], 0, 0
        chunk.append(item)
        ops += cost
        size += weight
    if chunk:
        yield chunk
