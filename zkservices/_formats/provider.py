"""The provider record every format reads into, and the node a format writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .._znode.paths import format_address

__all__ = ["Provider", "NodeSpec"]


@dataclass(frozen=True)
class Provider:
    """One provider of a service, whatever format registered it.

    ``name`` is the node's name (``host:port``, a Curator instance id, a ServerSet
    ``member_NNNNNNNNNN``), ``host`` and ``port`` where it serves, ``address`` the
    two ready for a config file (``[v6]:port`` for IPv6), ``properties`` a read-only
    mapping of what else the node says (see each format), ``format`` one of
    ``"zkservices"``, ``"curator"``, ``"serverset"``, and ``enabled`` false for a
    provider its node marks as not serving (Curator ``enabled: false``, a ServerSet
    status other than ``ALIVE``).
    """

    name: str
    host: str
    port: int
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False)
    format: str = "zkservices"
    enabled: bool = True
    address: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", format_address(self.host, self.port))
        if not isinstance(self.properties, MappingProxyType):
            object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    def __repr__(self) -> str:
        state = "" if self.enabled else " disabled"
        return f"<Provider {self.name} {self.address} {self.format}{state}>"


@dataclass(frozen=True)
class NodeSpec:
    """The node a format writes for one address: ``name`` (for a ``sequential`` node
    the prefix the server appends a counter to), ``data`` and whether it is
    ``ephemeral``."""

    name: str
    data: bytes
    ephemeral: bool = True
    sequential: bool = False
