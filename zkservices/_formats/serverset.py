"""ServerSet members, as Finagle, Aurora and twitter.common announce them.

A member is an EPHEMERAL_SEQUENTIAL node ``member_NNNNNNNNNN``; readers look only
at names with that prefix.  Its data, as Aurora writes it::

    {"serviceEndpoint":{"host":"10.0.0.3","port":31337},
     "additionalEndpoints":{"http":{"host":"10.0.0.3","port":8080}},"status":"ALIVE","shard":0}

(``shard`` and ``metadata``, a map of strings, only when set).  Other writers use
spaces and any key order.  Read: ``properties`` hold ``status``,
``additionalEndpoints`` (name → ``{"host", "port"}``) and, when present, ``shard``
and ``metadata``; ``enabled`` is true only for the status ``ALIVE``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .._znode.encoding import check_size
from .._znode.paths import Address, join, parse_address
from .provider import NodeSpec, Provider

__all__ = ["ServerSetFormat", "encode", "read", "MEMBER_PREFIX", "STATUSES"]

FORMAT = "serverset"
MEMBER_PREFIX = "member_"
STATUSES = ("DEAD", "STARTING", "ALIVE", "STOPPING", "STOPPED", "WARNING")


@dataclass(frozen=True)
class ServerSetFormat:
    """Options for registering as a ServerSet member.

    :param additional_endpoints: name → address of further endpoints
        (``{"http": 8080}``: a port alone means the member's own host, or
        ``"host:port"``, ``(host, port)``).
    :param status: the member's status (default ``ALIVE``).
    :raises ValueError: for a bad endpoint or status.
    """

    additional_endpoints: Mapping[str, Address | int] = field(default_factory=dict)
    status: str = "ALIVE"

    name = FORMAT

    def __post_init__(self) -> None:
        endpoints = {}
        for key, address in dict(self.additional_endpoints).items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"additional endpoint name {key!r} is not a non-empty string")
            endpoints[key] = _endpoint(address)
        object.__setattr__(self, "additional_endpoints", endpoints)
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}: expected one of {', '.join(STATUSES)}")

    def node(self, base: str, host: str, port: int, properties: Mapping[str, Any]) -> NodeSpec:
        """The sequential ``member_`` child of ``base`` for one address.  Raises ValueError."""
        data = encode(host, port, properties, options=self, path=join(base, MEMBER_PREFIX))
        return NodeSpec(MEMBER_PREFIX, data, ephemeral=True, sequential=True)


def _endpoint(address: Address | int) -> tuple[str, int]:
    if isinstance(address, bool):
        raise ValueError(f"endpoint {address!r}: expected a port, 'host:port' or (host, port)")
    if isinstance(address, int):
        return parse_address(("", address))
    return parse_address(address)


def encode(
    host: str, port: int, properties: Mapping[str, Any], *, options: ServerSetFormat | None = None, path: str = "?"
) -> bytes:
    """The member data: ``shard`` (an int) from ``properties``, every other property
    into ``metadata`` as a string (non-strings as their JSON).  Raises ValueError."""
    options = options or ServerSetFormat()
    endpoints = {}
    for name, endpoint in options.additional_endpoints.items():
        h, p = _endpoint(endpoint)  # (host, port) already, as ServerSetFormat keeps them
        endpoints[name] = {"host": h or host, "port": p}
    member: dict[str, Any] = {
        "serviceEndpoint": {"host": host, "port": port},
        "additionalEndpoints": endpoints,
        "status": options.status,
    }
    metadata = {}
    for key, value in properties.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: property name {key!r} is not a string")
        if key == "shard":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{path}: shard {value!r} is not an integer")
            member["shard"] = value
        else:
            try:
                metadata[key] = value if isinstance(value, str) else json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise ValueError(f"{path}: property {key!r}: {value!r} cannot be stored as JSON") from None
    if metadata:
        member["metadata"] = metadata
    data = json.dumps(member, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return check_size(path, data)


def read(name: str, data: bytes | None) -> Provider | None:
    """The provider a ServerSet member describes, or None (also for any name not
    starting with ``member_``)."""
    if not name.startswith(MEMBER_PREFIX) or not data:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    endpoint = _read_endpoint(value.get("serviceEndpoint"))
    if endpoint is None:
        return None
    status = value.get("status", "ALIVE")
    if not isinstance(status, str):
        return None
    additional = value.get("additionalEndpoints") or {}
    if not isinstance(additional, dict):
        return None
    properties: dict[str, Any] = {"status": status, "additionalEndpoints": additional}
    for key in ("shard", "metadata"):
        if value.get(key) is not None:
            properties[key] = value[key]
    return Provider(name, endpoint[0], endpoint[1], properties, FORMAT, status == "ALIVE")


def _read_endpoint(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, dict):
        return None
    host, port = value.get("host"), value.get("port")
    if not isinstance(host, str) or not host or isinstance(port, bool) or not isinstance(port, int):
        return None
    try:
        return parse_address((host, port))
    except ValueError:
        return None
