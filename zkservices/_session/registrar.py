"""Server registrations: ephemeral ``host:port`` nodes that survive session loss.

A :class:`Registration` owns one node per address.  The :class:`Registrar` keeps
every live registration of a session in a table and registers two steps with the
session core: after a session loss it restores all of them -- one transaction per
service path, so that watchers see a service's providers come back all at once --
before user calls go on; after a reconnection it re-arms the watches that follow each
node's data (an operator's change to a live registration survives expiry).

A node that is still on the server under another session (the old one not yet
reaped, or a stale process) is replaced, never skipped.  An unregistered server leaves
the table first, so it never comes back.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from .._znode.encoding import encode
from .._znode.paths import Address, format_address, join, parse_address
from .._os.addresses import local_addresses
from .core import SessionCore
from .retry import RETRYABLE, authorized
from .writes import resolve_or_create

__all__ = ["Registration", "Registrar"]

log = logging.getLogger("zkservices.registration")

_TRANSACTION_OPS = 1000  # operations per restore transaction at most
_TRANSACTION_BYTES = 512 * 1024  # estimated request size per restore transaction at most


@dataclass
class _Node:
    path: str
    name: str  # host:port
    data: bytes
    acl: Sequence[Any] | None
    registration: "Registration" = field(repr=False)
    watcher: Any = field(default=None, repr=False)


class Registration:
    """Handle for a registered server: :meth:`unregister`, context manager.

    ``path`` is the path given, ``real_path`` the node it resolved to (links
    followed), ``names`` the ``host:port`` child names and ``paths`` their full paths.
    ``active`` is false once unregistered (or once the session was closed).
    """

    def __init__(self, registrar: "Registrar", path: str, real_path: str, names: Sequence[str]) -> None:
        self._registrar = registrar
        self.path = path
        self.real_path = real_path
        self.names = tuple(names)
        self.paths = tuple(join(real_path, name) for name in names)
        self.active = True

    def unregister(self) -> None:
        """Delete the nodes; they never come back, also after session loss (idempotent).

        Waits through connection trouble; a node whose session is already gone is gone.
        """
        if not self.active:
            return
        self.active = False
        self._registrar.unregister_paths(self.paths)

    def __enter__(self) -> "Registration":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()

    def __repr__(self) -> str:
        state = "active" if self.active else "unregistered"
        return f"<Registration {', '.join(self.paths)} {state}>"


class Registrar:
    """The registrations of one session core, and their restoration."""

    def __init__(self, core: SessionCore) -> None:
        self.core = core
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.RLock()
        core.add_recovery_step("restore registrations", self._restore, before_ready=True)
        core.add_reconnect_step(self._retrack)
        core.add_close_step(self._close)

    # -- registering -------------------------------------------------------

    def register(
        self, path: str, address: Address, *, acl: Sequence[Any] | None = None, properties: Mapping[str, Any]
    ) -> Registration:
        """Register ephemeral ``host:port`` children of ``path`` (created with its
        missing parents); with no host in ``address``, one per local address.

        The node data is ``properties`` plus ``host``, ``port`` and ``pid``.  Raises
        ValueError for a bad address or properties, ValueTooLarge, InvalidPath.
        """
        core = self.core
        host, port = parse_address(address)
        hosts = [host] if host else local_addresses()
        real = resolve_or_create(core, path)
        names = [format_address(h, port) for h in hosts]
        acl = list(acl) if acl is not None else core.default_acl()
        registration = Registration(self, path, real, names)
        nodes = []
        for h, name, node_path in zip(hosts, names, registration.paths):
            data = dict(properties)
            data.setdefault("pid", os.getpid())
            data["host"] = h
            data["port"] = port
            nodes.append(_Node(node_path, name, encode(data, path=node_path), acl, registration))
        with self._lock:
            for node in nodes:
                self._nodes[node.path] = node
        try:
            for node in nodes:
                self._put(node, core.retry)
                self._track(node)
                log.info("registered %s at %s", node.name, node.path)
        except BaseException:
            registration.unregister()
            raise
        core.settle()
        return registration

    def unregister(self, path: str, address: Address) -> None:
        """Remove a registration made by this session (same address forms as register).

        A registration made at ``path`` is taken out of the table at once, before any
        round trip (so it is not restored even if the connection is down now); other
        paths are resolved through links first.
        """
        host, port = parse_address(address)
        hosts = [host] if host else local_addresses()
        names = {format_address(h, port) for h in hosts}
        with self._lock:
            known = [
                n for n in self._nodes.values()
                if n.name in names and path in (n.registration.path, n.registration.real_path)
            ]
            for node in known:
                node.registration.active = False
        if known:
            paths = [node.path for node in known]
        else:
            real = self.core.resolve(path)
            paths = [join(real, name) for name in sorted(names)]
            with self._lock:
                for registration in {self._nodes[p].registration for p in paths if p in self._nodes}:
                    registration.active = False
        self.unregister_paths(paths)

    def unregister_paths(self, paths: Iterable[str]) -> None:
        """Forget the registrations at ``paths`` and delete their nodes (waiting through
        connection trouble; a node gone with its session counts as deleted)."""
        paths = list(paths)
        with self._lock:
            for path in paths:
                self._nodes.pop(path, None)
        for path in paths:
            try:
                with authorized("delete", path):
                    self.core.retry(self.core.client.delete, path)
                log.info("unregistered %s", path)
            except NoNodeError:  # gone already, or with its session
                pass
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

    def _put(self, node: _Node, retry: Any) -> None:
        """Create ``node`` as ours, replacing a node of another session."""
        client = self.core.client
        while True:
            try:
                with authorized("create", node.path):
                    retry(client.create, node.path, node.data, acl=node.acl, ephemeral=True, makepath=True)
                return
            except NodeExistsError:
                pass
            try:
                data, stat = retry(client.get, node.path)
            except NoNodeError:
                continue
            if stat.ephemeralOwner == self.core.session_id:
                if data != node.data:
                    retry(client.set, node.path, node.data)
                return
            log.warning("%s exists under another session (0x%x); replacing it", node.path, stat.ephemeralOwner)

            def replace() -> list[Any]:
                transaction = client.transaction()
                transaction.delete(node.path, version=stat.version)
                transaction.create(node.path, node.data, acl=node.acl, ephemeral=True)
                return transaction.commit()

            with authorized("replace", node.path):
                results = retry(replace)
            if not any(isinstance(r, Exception) for r in results):
                return
            if not any(isinstance(r, (BadVersionError, NoNodeError, NodeExistsError)) for r in results):
                with authorized("replace", node.path):
                    raise next(r for r in results if isinstance(r, Exception))
            # someone raced us: look again

    def _track(self, node: _Node) -> None:
        """Follow the registration node's data, whoever changes it.

        The watcher only re-arms with a non-blocking ``get_async``; the result is taken
        on kazoo's completion thread.  Connection loss drops kazoo's watchers: the
        reconnect step tracks again.
        """
        core = self.core
        client = core.client
        watcher = node.watcher
        if watcher is None:

            def watcher(event: Any) -> None:
                if event.type != "NONE":  # NONE: connection trouble, handled by the steps
                    self._track(node)

            node.watcher = watcher
        if not node.registration.active or core.closed:
            return
        try:
            result = client.get_async(node.path, watch=watcher)
        except Exception:  # closed, or no connection: the reconnect step tracks again
            return

        def done(result: Any) -> None:
            try:
                data, stat = result.get()
            except Exception:
                return
            if stat.ephemeralOwner == core.session_id and node.registration.active and data != node.data:
                log.info("registration %s now holds %s", node.path, data.decode("utf-8", "replace"))
                node.data = data

        result.rawlink(done)

    def _active_nodes(self) -> list[_Node]:
        with self._lock:
            return [n for n in self._nodes.values() if n.registration.active]

    def _retrack(self) -> None:
        for node in self._active_nodes():
            self._track(node)

    # -- after a session loss ------------------------------------------------

    def _restore(self, generation: int) -> None:
        nodes = self._active_nodes()
        if not nodes:
            return
        try:
            self.core.retry_connected(self._restore_once, nodes, generation)
        finally:
            # An unregister (or close) that raced the restore: take the node away again.
            for node in nodes:
                if not node.registration.active:
                    try:
                        self.core.client.delete(node.path)
                    except Exception:  # gone already, or the session with it
                        pass
        log.info("%d registration(s) restored", len(nodes))

    def _restore_once(self, nodes: list[_Node], generation: int) -> None:
        """Re-create ``nodes`` in one transaction per service path (pipelined); what a
        transaction cannot do (a parent deleted meanwhile, a race) goes one by one."""
        core = self.core
        client = core.client
        session = core.session_id
        pending = [(node, client.exists_async(node.path)) for node in nodes]
        by_parent: dict[str, list[tuple[_Node, Any]]] = {}
        for node, result in pending:
            stat = result.get()  # transient errors: the whole restore is retried
            if stat is not None and stat.ephemeralOwner == session:
                continue  # ours already (a racing register); tracking fixes the data
            by_parent.setdefault(node.path.rpartition("/")[0] or "/", []).append((node, stat))
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
                commits.append((chunk, transaction.commit_async()))
        slow: list[_Node] = []
        for chunk, result in commits:
            results = result.get()
            if any(isinstance(r, RETRYABLE) for r in results):
                raise next(r for r in results if isinstance(r, RETRYABLE))
            if any(isinstance(r, Exception) for r in results):
                log.debug("restore transaction for %s failed (%s); one by one", chunk[0][0].path.rpartition("/")[0],
                          next(r for r in results if isinstance(r, Exception)))
                slow.extend(node for node, _ in chunk)
                continue
            for node, _ in chunk:
                log.info("re-registered %s at %s (new session 0x%x)", node.name, node.path, session or 0)
        for node in slow:
            if core.generation != generation or not node.registration.active:
                continue
            self._put(node, core.retry_connected)
            log.info("re-registered %s at %s (new session 0x%x)", node.name, node.path, session or 0)
        for node in nodes:
            self._track(node)

    def _close(self) -> None:
        with self._lock:
            nodes = list(self._nodes.values())
            self._nodes.clear()
        # Mark them unregistered: a restore running after a session loss must not
        # re-create them, and a later unregister() has nothing left to do.
        for node in nodes:
            node.registration.active = False
        if self.core.owns_client:
            return  # closing the session removes its ephemeral nodes
        for node in nodes:  # a wrapped client lives on: delete them ourselves
            try:
                self.core.client.delete(node.path)
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"<Registrar {len(self._nodes)} node(s)>"


def _chunks(group: list[tuple[_Node, Any]]) -> Iterable[list[tuple[_Node, Any]]]:
    chunk: list[tuple[_Node, Any]] = []
    ops = size = 0
    for item in group:
        node, stat = item
        cost = 1 + (stat is not None)
        weight = len(node.path) * cost + len(node.data) + 64
        if chunk and (ops + cost > _TRANSACTION_OPS or size + weight > _TRANSACTION_BYTES):
            yield chunk
            chunk, ops, size = [], 0, 0
        chunk.append(item)
        ops += cost
        size += weight
    if chunk:
        yield chunk
