"""Provider node formats: zkservices (also zc.zk and Nerve), Curator, ServerSet.

Pure: no session.  Each format module has ``encode(...)`` for writing and
``read(name, data) -> Provider | None`` for recognising a node; the format objects
(:class:`ZkServicesFormat`, :class:`CuratorFormat`, :class:`ServerSetFormat`) carry
the options of writing and make the node for one address (``node(...)``).
:func:`read_provider` recognises any of them.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence, Union

from . import curator, serverset, zkservices
from .curator import CuratorFormat
from .provider import NodeSpec, Provider
from .serverset import ServerSetFormat
from .zkservices import ZkServicesFormat

__all__ = [
    "Provider",
    "NodeSpec",
    "ZkServicesFormat",
    "CuratorFormat",
    "ServerSetFormat",
    "Format",
    "FORMATS",
    "resolve_format",
    "read_provider",
    "CURATOR_SIBLINGS",
    "curator_clashes",
    "check_curator_siblings",
]

#: A provider format object (``register_server(format=...)`` takes one, or its name).
Format = Union[ZkServicesFormat, CuratorFormat, ServerSetFormat]

#: The format names ``register_server(format=...)`` takes.
FORMATS = ("zkservices", "curator", "serverset")

#: How many nodes of a directory :func:`check_curator_siblings` is given at most.
CURATOR_SIBLINGS = 20


def resolve_format(format: str | Format | None) -> Format:
    """The format object for a name (or the object itself).  Raises ValueError."""
    if format is None or format == "zkservices":
        return ZkServicesFormat()
    if format == "curator":
        return CuratorFormat()
    if format == "serverset":
        return ServerSetFormat()
    if isinstance(format, (ZkServicesFormat, CuratorFormat, ServerSetFormat)):
        return format
    raise ValueError(f"format {format!r}: expected one of {', '.join(FORMATS)} or a format object")


def read_provider(name: str, data: bytes | None) -> Provider | None:
    """The provider node ``name`` with ``data`` describes, in whichever format; None
    when it is not a provider node any format can read."""
    if name.startswith(serverset.MEMBER_PREFIX):
        found = serverset.read(name, data)
        if found is not None:
            return found
    return curator.read(name, data) or zkservices.read(name, data)


def curator_clashes(properties: Mapping[str, Any]) -> list[str]:
    """The names among a zkservices node's ``properties`` that Curator parses as its own
    fields when it reads the node as one of its instances."""
    return sorted(set(properties) & set(curator.CURATOR_FIELDS))


def check_curator_siblings(directory: str, clashes: Sequence[str], siblings: Iterable[tuple[str, bytes]]) -> None:
    """Refuse a zkservices node whose properties ``clashes`` (:func:`curator_clashes`)
    in ``directory`` when one of its ``siblings`` (name, data) is a Curator instance:
    Curator fails a whole directory on one instance it cannot parse.

    :raises ValueError: a sibling is a Curator instance.
    """
    for name, data in siblings:
        provider = read_provider(name, data)
        if provider is not None and provider.format == "curator":
            raise ValueError(
                f"{directory} holds Curator instances; properties {', '.join(map(repr, clashes))} would be read "
                "by Curator as its own fields (register with format='curator' there)"
            )
