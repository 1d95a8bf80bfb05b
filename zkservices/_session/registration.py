"""The handle of a server registration and the nodes it owns (kept by the
:class:`~zkservices._session.registrar.Registrar`, restored after session loss)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["Registration", "Node"]


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
    ``active`` is false once unregistered (or once the session was closed).
    """

    def __init__(self, registrar: Any, path: str, real_path: str, format: str = "zkservices") -> None:
        self._registrar = registrar
        self.path = path
        self.real_path = real_path
        self.format = format
        self._nodes: list[Node] = []
        self.active = True

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(n.path for n in self._nodes if n.path is not None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self._nodes if n.path is not None)

    def unregister(self) -> None:
        """Delete the nodes; they never come back, also after session loss (idempotent).

        Waits through connection trouble; a node whose session is already gone is gone.
        """
        if not self.active:
            return
        self.active = False
        self._registrar.unregister_nodes(self._nodes)

    def __enter__(self) -> "Registration":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()

    def __repr__(self) -> str:
        state = "active" if self.active else "unregistered"
        return f"<Registration {', '.join(self.paths)} {state}>"
