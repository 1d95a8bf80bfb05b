"""Registrations made step by step by a caller that sends the round trips itself
(:mod:`zkservices.aio` awaits them on an event loop).

The steps use the :class:`~zkservices._session.registrar.Registrar`'s own table, so a
registration made this way is restored after a session loss and removed by
``unregister`` like any other:

1. :func:`plan` checks it, as ``Registrar.register`` does, writing nothing;
2. the caller resolves (or creates) the service path;
3. :func:`record` enters its nodes in the table (restored from now on);
4. the caller creates each of :func:`nodes_of` and reports it with :func:`created`.

Unregistering: :func:`forget_known` / :func:`forget_paths` / :func:`forget_nodes` take
registrations out of the table (never restored again) and return the paths for the
caller to delete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .._formats import Format, resolve_format
from .._os.addresses import local_addresses
from .._znode.paths import Address, check_path, format_address, join, parse_address
from .registrar import Registrar, Registration, _Node

__all__ = ["RegistrationPlan", "plan", "record", "nodes_of", "owned_paths", "created", "forget_nodes",
           "forget_known", "forget_paths"]

log = logging.getLogger("zkservices.registration")


@dataclass(frozen=True)
class RegistrationPlan:
    """A checked registration, not written yet (see :func:`plan`)."""

    path: str
    format: Format
    hosts: tuple[str, ...]
    port: int
    properties: dict[str, Any] = field(repr=False)


def plan(path: str, address: Address, *, properties: Mapping[str, Any],
         format: str | Format | None = None) -> RegistrationPlan:
    """Check a registration as ``Registrar.register`` does, writing nothing.

    :raises ValueError: a bad address, format or properties.
    :raises InvalidPath: ``path`` is not a valid path.
    """
    check_path(path)
    fmt = resolve_format(format)
    host, port = parse_address(address)
    hosts = [host] if host else local_addresses()
    if len(hosts) > 1 and getattr(fmt, "instance_id", None) is not None:
        raise ValueError(f"{path}: instance_id {fmt.instance_id!r} names one instance; give a host")  # type: ignore[union-attr]
    for h in hosts:  # bad properties: refused before anything is written
        fmt.node(path, h, port, properties)
    return RegistrationPlan(path, fmt, tuple(hosts), port, dict(properties))


def record(registrar: Registrar, plan: RegistrationPlan, real_path: str, *,
           acl: Sequence[Any] | None = None) -> Registration:
    """A :class:`Registration` of ``plan`` below the resolved ``real_path``, its nodes
    entered in ``registrar``'s table at once (``acl``: default the core's)."""
    acl = list(acl) if acl is not None else registrar.core.default_acl()
    registration = Registration(registrar, plan.path, real_path, plan.format.name)
    nodes: list[_Node] = []
    for h in plan.hosts:
        spec = plan.format.node(real_path, h, plan.port, plan.properties)
        node_path = join(real_path, spec.name)
        address = format_address(h, plan.port)
        if spec.sequential:
            nodes.append(_Node(None, address, spec.data, acl, registration, prefix=node_path,
                               key=f"{node_path}\0{id(registration):x}-{len(nodes)}"))
        else:
            nodes.append(_Node(node_path, address, spec.data, acl, registration, ephemeral=spec.ephemeral,
                               key=node_path))
    registration._nodes = nodes
    with registrar._lock:
        for node in nodes:
            registrar._nodes[node.key] = node
    return registration


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
