"""The handle of a server registration and the nodes it owns (kept by the
:class:`~zkservices._session.registrar.Registrar`, restored after session loss)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .._formats import Format, resolve_format
from .._os.addresses import local_addresses
from .._znode.paths import Address, check_path, parse_address

__all__ = ["Registration", "Node", "RegistrationPlan", "plan_registration"]


@dataclass(frozen=True)
class RegistrationPlan:
    """A checked registration, not written yet (see :func:`plan_registration`)."""

    path: str
    format: Format
    hosts: tuple[str, ...]
    port: int
    properties: dict[str, Any] = field(repr=False)
    any_host: bool = False  # given no host: ``hosts`` are the local addresses at planning time


def plan_registration(path: str, address: Address, *, properties: Mapping[str, Any],
                      format: str | Format | None = None) -> RegistrationPlan:
    """Check a registration, writing nothing: the path, the format, the address (with
    no host: one node per local address) and the properties the format must store.

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
    return RegistrationPlan(path, fmt, tuple(hosts), port, dict(properties), any_host=not host)


@dataclass(eq=False)
class Node:
    """One node of a registration, as the registrar keeps and restores it."""

    path: str | None  # None: a sequential node not created yet
    address: str  # host:port
    data: bytes
    acl: Sequence[Any] | None
    registration: "Registration" = field(repr=False)
    ephemeral: bool = True
    prefix: str | None = None  # a sequential node's path before the server's counter
    key: str = ""  # its key in the registrar's table: the path once it has one
    watcher: Any = field(default=None, repr=False)
    lock: Any = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2] if self.path else ""


class Registration:
    """Handle for a registered server: :meth:`unregister`, context manager.

    ``path`` is the path given, ``real_path`` the node it resolved to (links
    followed), ``format`` the format's name, ``names`` the child names (``host:port``,
    Curator instance IDs, ServerSet ``member_`` names) and ``paths`` their full paths;
    a ServerSet member restored after a session loss has a new name, and these follow.
    ``active`` is false once unregistered (or once the session was closed).  ``nodes``
    are the registrar's records of the nodes (address, path, data), one per address.
    ``any_host_port`` is the port of a registration given no host (one node per local
    address when it was made; unregistering no host and that port removes them all,
    whatever the local addresses are by then), else None.
    """

    def __init__(self, registrar: Any, path: str, real_path: str, format: str = "zkservices", *,
                 any_host_port: int | None = None) -> None:
        self._registrar = registrar
        self.path = path
        self.real_path = real_path
        self.format = format
        self.any_host_port = any_host_port
        self.nodes: tuple[Node, ...] = ()  # one per address, entered by the registrar
        self.active = True

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(n.path for n in self.nodes if n.path is not None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.path is not None)

    def unregister(self) -> None:
        """Delete the nodes; they never come back, also after session loss (idempotent).

        Waits through connection trouble; a node whose session is already gone is gone.
        A failed delete does not stop the others; the first failure is raised at the end.
        """
        self._registrar.forget(self)

    def __enter__(self) -> "Registration":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()

    def __repr__(self) -> str:
        state = "active" if self.active else "unregistered"
        return f"<Registration {', '.join(self.paths)} {state}>"
