"""Registrations made step by step by a caller that sends the round trips itself
(:mod:`zkservices.aio` awaits them on an event loop).

The steps use the :class:`~zkservices._session.registrar.Registrar`'s own table, so a
registration made this way is restored after a session loss and removed by
``unregister`` like any other:

1. :func:`~zkservices._session.registration.plan_registration` checks it, as
   ``Registrar.register`` does, writing nothing;
2. the caller resolves (or creates) the service path;
3. ``Registrar.record`` enters its nodes in the table (restored from now on);
4. the caller creates each of :func:`nodes_of` and reports it with :func:`created`.

Unregistering: :func:`forget_known` / :func:`forget_paths` / :func:`forget_nodes` take
registrations out of the table (never restored again) and return the paths for the
caller to delete.
"""

from __future__ import annotations

import logging
from typing import Iterable

from .._os.addresses import local_addresses
from .._znode.paths import Address, format_address, parse_address
from .registrar import Registrar, Registration, _Node

__all__ = ["nodes_of", "owned_paths", "created", "forget_nodes",
           "forget_known", "forget_paths"]

log = logging.getLogger("zkservices.registration")


def nodes_of(registration: Registration) -> tuple[_Node, ...]:
    """The nodes of ``registration`` (``path`` None: a sequential node not created yet)."""
    return tuple(registration._nodes)


def owned_paths(registrar: Registrar) -> set[str]:
    """The paths the registrations of ``registrar`` own now."""
    with registrar._lock:
        return set(registrar._nodes)


def created(registrar: Registrar, node: _Node, path: str) -> None:
    """``node`` exists at ``path`` as this session's: record a sequential node's path
    and follow the node's data, as ``Registrar.register`` does."""
    if node.prefix is not None:
        registrar._place(node, path)
    registrar._track(node)
    log.info("registered %s at %s (%s)", node.address, node.path, node.registration.format)


def forget_nodes(registrar: Registrar, nodes: Iterable[_Node]) -> list[str]:
    """Take ``nodes`` out of the table (never restored again); the paths to delete."""
    nodes = list(nodes)
    with registrar._lock:
        for node in nodes:
            registrar._nodes.pop(node.key, None)
        return [node.path for node in nodes if node.path is not None]


def forget_known(registrar: Registrar, path: str, address: Address) -> list[str] | None:
    """The table half of ``Registrar.unregister``: registrations made at ``path`` for
    ``address`` leave the table, before any round trip; the paths to delete, or None
    when there were none (then resolve ``path`` and use :func:`forget_paths`).

    :raises ValueError: a bad address.
    """
    host, port = parse_address(address)
    names = {format_address(h, port) for h in ([host] if host else local_addresses())}
    with registrar._lock:
        known = [n for n in registrar._nodes.values()
                 if n.address in names and path in (n.registration.path, n.registration.real_path)]
        for node in known:
            node.registration.active = False
    return forget_nodes(registrar, known) if known else None


def forget_paths(registrar: Registrar, paths: Iterable[str]) -> list[str]:
    """Take the registrations at ``paths`` out of the table; the paths to delete."""
    paths = list(paths)
    with registrar._lock:
        for path in paths:
            node = registrar._nodes.pop(path, None)
            if node is not None:
                node.registration.active = False
    return paths
