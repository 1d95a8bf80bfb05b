"""zkservices' own provider nodes (also zc.zk's and Nerve's).

A node named ``host:port`` whose data is a compact JSON object holding the
registration's properties plus ``host``, ``port`` and ``pid``.  Read: JSON with
``host`` and ``port`` (Nerve writes those, with any name), or a ``host:port`` name
(zc.zk) whatever the data.  ``properties`` are the data without ``host`` and
``port`` (data that is not a JSON object: ``{"string_value": text}``, as
everywhere in zkservices).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from .._znode.encoding import decode, encode as encode_properties
from .._znode.paths import format_address, join, parse_address, port_problem
from .provider import NodeSpec, Provider

__all__ = ["ZkServicesFormat", "encode", "read", "read_value", "unreadable"]

FORMAT = "zkservices"


@dataclass(frozen=True)
class ZkServicesFormat:
    """zkservices' own format (the default of ``register_server``); no options."""

    name = FORMAT

    def node(self, base: str, host: str, port: int, properties: Mapping[str, Any]) -> NodeSpec:
        """The ``host:port`` child of ``base`` for one address.  Raises ValueError,
        ValueTooLarge for properties that cannot be stored."""
        name = format_address(host, port)
        return NodeSpec(name, encode(host, port, properties, path=join(base, name)))


def encode(host: str, port: int, properties: Mapping[str, Any], *, path: str = "?") -> bytes:
    """The node data: ``properties``, ``pid`` (unless given), ``host`` and ``port``."""
    data = dict(properties)
    data.setdefault("pid", os.getpid())
    data["host"] = host
    data["port"] = port
    return encode_properties(data, path=path)


def read(name: str, data: bytes | None) -> Provider | None:
    """The provider a zkservices, zc.zk or Nerve node describes, or None."""
    value = _json_object(data)
    if value is None:  # not a JSON object: a ``host:port`` name still says where (zc.zk)
        value = decode(data)
    return read_value(name, value)


def read_value(name: str, value: dict[str, Any]) -> Provider | None:
    """The provider a node ``name`` holding the decoded data ``value`` describes, or None."""
    if "host" in value and "port" in value:
        host, port = value["host"], value["port"]
        if not isinstance(host, str) or not host or isinstance(port, bool):
            return None
        try:
            host, port = parse_address((host, port))
        except ValueError:
            return None
        properties = {k: v for k, v in value.items() if k not in ("host", "port")}
        return Provider(name, host, port, properties, FORMAT)
    try:
        host, port = parse_address(name)
    except ValueError:
        return None
    if not host:
        return None
    return Provider(name, host, port, value, FORMAT)


def unreadable(name: str, data: bytes | None) -> str:
    """Why :func:`read` finds no provider in the node ``name`` holding ``data``, in
    words for a log message (a bad ``host`` or ``port``, or no address at all)."""
    value = _json_object(data)
    if value is None:
        value = decode(data)
    if "host" not in value or "port" not in value:
        return "not a provider node any format can read"
    host, port = value["host"], value["port"]
    if not isinstance(host, str) or not host:
        return f"host {host!r} is not a hostname or IP address"
    if isinstance(port, str) and port.isascii() and port.isdigit():
        port = int(port)  # as read() takes it
    return port_problem(port) or f"host {host!r} with port {port!r} is not an address"


def _json_object(data: bytes | None) -> dict[str, Any] | None:
    """``data`` as a JSON object (empty or ``null`` data: ``{}``), or None."""
    if not data:
        return {}
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if value is None:
        return {}
    return value if isinstance(value, dict) else None
