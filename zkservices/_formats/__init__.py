"""Provider node formats: zkservices (also zc.zk and Nerve), Curator, ServerSet.

Pure: no session.  Each format module has ``encode(...)`` for writing and
``read(name, data) -> Provider | None`` for recognising a node; the format objects
(:class:`ZkServicesFormat`, :class:`CuratorFormat`, :class:`ServerSetFormat`) carry
the options of writing and make the node for one address (``node(...)``).
:func:`read_provider` recognises any of them.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, MutableMapping, Sequence, Union

from .._deprecation import renamed_argument
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
    "unreadable_reason",
    "provider_format_argument",
    "provider_record",
    "provider_from_record",
    "CURATOR_SIBLINGS",
    "curator_clashes",
    "check_curator_siblings",
]

#: A provider format object (``register_server(provider_format=...)`` takes one, or its name).
Format = Union[ZkServicesFormat, CuratorFormat, ServerSetFormat]

#: The format names ``register_server(provider_format=...)`` takes.
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


def unreadable_reason(name: str, data: bytes | None) -> str:
    """Why :func:`read_provider` finds no provider in the node ``name`` holding
    ``data``, in words for a log message."""
    return zkservices.unreadable(name, data)


def provider_format_argument(provider_format: str | Format | None, properties: MutableMapping[str, Any], *,
                             stacklevel: int = 3) -> str | Format:
    """The provider format a registering call was given: ``provider_format``, or the
    deprecated ``format=`` keyword, which arrives among ``properties`` (taken out of
    them, with a DeprecationWarning for the caller ``stacklevel`` frames up, as
    :func:`warnings.warn` counts); ``"zkservices"`` for neither.

    :raises TypeError: both were given.
    """
    provider_format = renamed_argument(provider_format, properties.pop("format", None), new="provider_format",
                                       old="format", stacklevel=stacklevel + 1)
    return "zkservices" if provider_format is None else provider_format


def provider_record(provider: Provider) -> dict[str, Any]:
    """The provider as one flat mapping, as feed templates and snapshots keep it: its
    properties with ``host`` and ``port`` (a zkservices node: its data as written)."""
    if provider.format == zkservices.FORMAT:
        return {**provider.properties, "host": provider.host, "port": provider.port}
    return {"host": provider.host, "port": provider.port, **provider.properties}


def provider_from_record(name: str, record: Mapping[str, Any]) -> Provider | None:
    """The provider a flat mapping (:func:`provider_record`) describes, read as a
    zkservices node of that data; None when it names no host and port."""
    return zkservices.read_value(name, dict(record))


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
                "by Curator as its own fields (register with provider_format='curator' there)"
            )
