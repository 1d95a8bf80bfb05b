"""Server registration: ephemeral ``host:port`` nodes that survive session loss.

A :class:`Registration` owns one node per address.  The owning
:class:`~zkservices.ZooKeeper` keeps every live registration in a table; after
the session expires and a new one is established, :func:`restore` re-creates
all of them with their current data, pipelined, off kazoo's event thread.
A node that is still on the server under another session (the old one not yet
reaped, or a stale process) is replaced, never skipped.  An unregistered
server leaves the table first, so it never comes back.
"""

from __future__ import annotations

import fcntl
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from .._znode.paths import join

if TYPE_CHECKING:  # pragma: no cover
    from .._session import ZooKeeper

__all__ = ["Registration", "local_addresses"]

log = logging.getLogger("zkservices.registration")

_SIOCGIFADDR = 0x8915


def _ipv4_of(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _ipv6_addresses() -> list[str]:
    found = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 6:
                    continue
                raw, scope = fields[0], int(fields[3], 16)
                if scope != 0:  # link-local, loopback, site: not reachable as is
                    continue
                text = ":".join(raw[i : i + 4] for i in range(0, 32, 4))
                found.append(socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text)))
    except OSError:
        pass
    return found


def local_addresses() -> list[str]:
    """Non-loopback IPv4 and global IPv6 addresses of this machine, else ``['127.0.0.1']``."""
    addresses: list[str] = []
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = []
    for name in interfaces:
        address = _ipv4_of(name)
        if address and not address.startswith("127.") and address not in addresses:
            addresses.append(address)
    for address in _ipv6_addresses():
        if address != "::1" and address not in addresses:
            addresses.append(address)
    if not addresses:
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None):
                found = str(info[4][0])
                if not found.startswith("127.") and found != "::1" and found not in addresses:
                    addresses.append(found)
        except OSError:
            pass
    return addresses or ["127.0.0.1"]


@dataclass
class _Node:
    path: str
    name: str  # host:port
    data: bytes
    acl: Sequence[Any] | None
    registration: "Registration" = field(repr=False)
    watcher: Any = field(default=None, repr=False)


class Registration:
    """Handle for a registered server: ``unregister()``, context manager, ``paths``."""

    def __init__(self, zk: "ZooKeeper", path: str, real_path: str, names: Sequence[str]) -> None:
        self.zk = zk
        self.path = path
        self.real_path = real_path
        self.names = tuple(names)
        self.paths = tuple(join(real_path, name) for name in names)
        self.active = True

    def unregister(self) -> None:
        """Delete the nodes; they never come back, also after session loss (idempotent)."""
        if not self.active:
            return
        self.active = False
        self.zk._unregister_paths(self.paths)

    def __enter__(self) -> "Registration":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()

    def __repr__(self) -> str:
        state = "active" if self.active else "unregistered"
        return f"<Registration {', '.join(self.paths)} {state}>"


def put_ephemeral(zk: "ZooKeeper", node: _Node) -> None:
    """Create ``node`` as ours, replacing a node of another session (sync)."""
    client = zk.client
    while True:
        try:
            zk._retry(client.create, node.path, node.data, acl=node.acl, ephemeral=True, makepath=True)
            return
        except NodeExistsError:
            pass
        try:
            data, stat = zk._retry(client.get, node.path)
        except NoNodeError:
            continue
        if stat.ephemeralOwner == client.client_id[0]:
            if data != node.data:
                zk._retry(client.set, node.path, node.data)
            return
        log.warning(
            "%s exists under another session (0x%x); replacing it", node.path, stat.ephemeralOwner
        )
        transaction = client.transaction()
        transaction.delete(node.path, version=stat.version)
        transaction.create(node.path, node.data, acl=node.acl, ephemeral=True)
        results = transaction.commit()
        if not any(isinstance(r, Exception) for r in results):
            return
        if not any(isinstance(r, (BadVersionError, NoNodeError, NodeExistsError)) for r in results):
            raise results[0] if isinstance(results[0], Exception) else results[1]
        # someone raced us: look again


def track(zk: "ZooKeeper", node: _Node) -> None:
    """Follow the registration node's data, whoever changes it.

    An operator may change a live registration (``zkservices set-property``,
    say, to drain a server with ``weight=0``); the restore after a session
    loss must bring back that data, not what was registered first.  The
    watcher only re-arms with a non-blocking ``get_async``; the result is
    taken on kazoo's completion thread.  Connection loss drops kazoo's
    watchers: the owner calls ``track`` again on reconnection.
    """
    client = zk.client
    watcher = node.watcher
    if watcher is None:

        def watcher(event: Any) -> None:
            if event.type != "NONE":  # NONE: connection/session trouble, handled by the owner
                track(zk, node)

        node.watcher = watcher
    if not node.registration.active or zk.closed:
        return
    try:
        result = client.get_async(node.path, watch=watcher)
    except Exception:  # closed, or no connection: the owner re-tracks later
        return

    def done(result: Any) -> None:
        try:
            data, stat = result.get()
        except Exception:
            return
        cid = client.client_id
        if cid and stat.ephemeralOwner == cid[0] and node.registration.active and data != node.data:
            log.info("registration %s now holds %s", node.path, data.decode("utf-8", "replace"))
            node.data = data

    result.rawlink(done)


def restore(zk: "ZooKeeper", nodes: Iterable[_Node], generation: int) -> None:
    """Re-create every registration node after a session loss, pipelined.

    ``generation`` guards against a stale restore running after yet another
    session loss (that loss schedules its own restore).
    """
    client = zk.client
    nodes = [n for n in nodes if n.registration.active]
    if not nodes:
        return
    try:
        session = client.client_id[0] if client.client_id else 0
        # 1. one pipelined round of exists() for all nodes
        pending = [(node, client.exists_async(node.path)) for node in nodes]
        creates = []
        slow = []
        for node, result in pending:
            if zk._session_generation != generation or not node.registration.active:
                continue
            try:
                stat = result.get()
            except Exception:
                slow.append(node)
                continue
            if stat is None:
                creates.append((node, client.create_async(node.path, node.data, acl=node.acl, ephemeral=True)))
            elif stat.ephemeralOwner != session:
                slow.append(node)  # another session's node: replace it
            else:
                slow.append(node)  # ours already (a racing register): make the data right
        # 2. collect the pipelined creates; anything unusual goes the careful way
        for node, result in creates:
            try:
                result.get()
                log.info("re-registered %s at %s (new session 0x%x)", node.name, node.path, session)
            except Exception as exc:
                log.debug("pipelined re-create of %s failed (%s); retrying one by one", node.path, exc)
                slow.append(node)
        for node in slow:
            if zk._session_generation != generation or not node.registration.active:
                continue
            put_ephemeral(zk, node)
            log.info("re-registered %s at %s (new session 0x%x)", node.name, node.path, session)
        for node in nodes:
            track(zk, node)
    finally:
        # An unregister (or close) that raced the restore: take the node away
        # again, also when the restore stopped half-way (e.g. closed).
        for node in nodes:
            if not node.registration.active:
                try:
                    client.delete(node.path)
                except Exception:  # gone already, or the session with it
                    pass
