"""Faults injected for real: session expiry and dropped connections.

Both work on a plain started :class:`kazoo.client.KazooClient` (or anything
with a ``.client`` attribute holding one, such as :class:`zkservices.ZooKeeper`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, KeeperState

from .._session.kazoo_internals import access, new_client
from .._session.tls import tls_clone_arguments
from ..errors import FaultError

__all__ = ["drop_connection", "expire_session"]

log = logging.getLogger("zkservices.testing")


def _kazoo(client: Any) -> KazooClient:
    # a KazooClient, a zkservices.ZooKeeper (its session core's client) or anything with ``.client``
    if isinstance(client, KazooClient):
        return client
    for holder in (getattr(client, "core", None), client):
        inner = getattr(holder, "client", None)
        if isinstance(inner, KazooClient):
            return inner
    raise TypeError(f"expected a KazooClient or an object with .client, got {client!r}")


def _hosts_string(client: KazooClient) -> str:
    parts = []
    for host, port in client.hosts:
        parts.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return ",".join(parts)


def _wait_connected(client: KazooClient, timeout: float, action: str) -> None:
    # A started client that is reconnecting (after a dropped connection, say) is waited for,
    # up to ``timeout``; one that is not started, or stopped, is refused at once.
    connected = threading.Event()

    def listener(state: str) -> None:
        if state == KazooState.CONNECTED:
            connected.set()

    client.add_listener(listener)
    try:
        if client.connected:
            return
        if client.client_state == KeeperState.CLOSED:
            raise FaultError(f"{action} needs a connected client (this one is not started, or stopped)")
        log.info("%s: waiting up to %ss for the client to reconnect", action, timeout)
        if not connected.wait(timeout) and not client.connected:
            raise FaultError(f"{action} needs a connected client: not connected within {timeout}s")
    finally:
        client.remove_listener(listener)


def expire_session(client: Any, *, timeout: float = 30.0) -> int:
    """Expire the client's session on the server and wait for a new one.

    The technique: a second client connects with the same session id and
    password (and the client's TLS settings), then closes, which makes the
    server expire the session.  The original client then sees LOST and
    establishes a fresh session.  A client that is reconnecting (after a
    dropped connection, say) is first waited for, within ``timeout``.
    Returns the new session id once ``client``
    is CONNECTED with it (for a :class:`zkservices.ZooKeeper`: once it has
    also restored its registrations and views).  No private kazoo internals
    are used.

    :param client: a started :class:`~kazoo.client.KazooClient`, a
        :class:`zkservices.ZooKeeper`, or anything with a ``.client`` holding one.
    :param timeout: seconds to wait for the client to be connected, and again
        for the new session (and recovery).
    :raises FaultError: the client is not started (or stopped) or does not
        reconnect within ``timeout``, the server cannot be
        reached with a second client, or the client gets no new session
        (or does not recover) within ``timeout``.
    :raises TypeError: ``client`` holds no KazooClient.
    """
    kz = _kazoo(client)
    _wait_connected(kz, timeout, "expire_session")
    session_id, password = kz.client_id
    lost = threading.Event()

    def listener(state: str) -> None:
        if state == KazooState.LOST:
            lost.set()

    kz.add_listener(listener)
    try:
        # The client under test may reconnect between the clone's start and its close,
        # taking the session back before the clone closes it: then try again.
        for attempt in range(1, 6):
            clone = new_client(hosts=_hosts_string(kz), client_id=(session_id, password), **tls_clone_arguments(kz))
            try:
                clone.start(timeout=timeout)  # on a time-out it stops and closes itself
            except KazooTimeoutError:
                raise FaultError(
                    f"could not reach {_hosts_string(kz)} with a second client to expire session "
                    f"0x{session_id:x} within {timeout}s"
                ) from None
            try:
                clone.stop()
            finally:
                clone.close()
            if lost.wait(3.0):
                break
            cid = kz.client_id
            if not (kz.connected and cid is not None and cid[0] == session_id):
                break  # not (yet) back on the old session: the wait below decides
            log.info("session 0x%x was taken back before the clone closed it (attempt %d); again",
                     session_id, attempt)
        log.info("expired session 0x%x", session_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cid = kz.client_id
            if lost.is_set() and kz.connected and cid is not None and cid[0] != session_id:
                # a zkservices.ZooKeeper also restores registrations and views
                wait_recovered = getattr(client, "wait_recovered", None)
                if wait_recovered is not None and not wait_recovered(max(0.0, deadline - time.monotonic())):
                    raise FaultError(f"{client!r} did not recover within {timeout}s")
                return cid[0]
            time.sleep(0.01)
    finally:
        kz.remove_listener(listener)
    raise FaultError(f"client did not get a new session within {timeout}s after expiring 0x{session_id:x}")


def drop_connection(client: Any, *, timeout: float = 30.0) -> None:
    """Cut the client's TCP connection to the server; the session survives.

    The socket is shut down at the TCP level (both directions), as a network
    failure would; kazoo notices, reports SUSPENDED and reconnects with the
    same session.  A client that is reconnecting is first waited for, within
    ``timeout``; then this returns at once.  This reaches the connection's socket
    through kazoo's connection object, since kazoo offers no public way.

    :param client: as for :func:`expire_session`.
    :param timeout: seconds to wait for a reconnecting client to be connected.
    :raises FaultError: the client is not started (or stopped) or does not
        reconnect within ``timeout``, or the socket cannot be shut down.
    :raises TypeError: ``client`` holds no KazooClient.
    """
    kz = _kazoo(client)
    _wait_connected(kz, timeout, "drop_connection")
    kazoo = access(kz)
    if not kazoo.socket:
        raise FaultError("this kazoo keeps no connection socket zkservices can reach: cannot drop the connection")
    sock = kazoo.connection_socket()
    if sock is None:
        raise FaultError("client has no open connection to drop")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        raise FaultError(f"could not drop the connection: {exc}") from exc
    log.info("dropped the connection of session 0x%x", kz.client_id[0] if kz.client_id else 0)
