"""Apache Curator's service discovery instances (``curator-x-discovery``).

An instance is the node ``BASE/NAME/ID`` (``ID`` a random UUID unless given),
EPHEMERAL for the ``DYNAMIC`` service type, PERSISTENT for ``STATIC`` and
``PERMANENT``.  Its data is what Curator's ``JsonInstanceSerializer`` writes in
its default (compatible) mode -- compact JSON, fields in this order::

    {"name":"orders","id":"…","address":"10.0.0.7","port":8080,"sslPort":null,
     "payload":{"@class":"java.util.LinkedHashMap","weight":3},
     "registrationTimeUTC":1796110968522,"serviceType":"DYNAMIC","uriSpec":null}

A Map payload carries its Java class first (``"@class"``); strings are escaped as
Jackson escapes them (``\\u001F``, characters beyond the BMP as surrogate pairs) and
floats written as Java writes doubles (``1.0E20``).  Curator refuses a whole
directory when one sibling cannot be parsed, so everything written here parses.

Read: a JSON object with ``address`` and ``id`` (and no ``host``); ``properties`` are the payload
without ``"@class"`` (a payload that is not an object: ``{"payload": value}``),
``enabled`` comes from the field (written only by Curator's non-compatible
serializer), default true.  ``port`` is the plain port, else ``sslPort``.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from .._znode.encoding import check_json, check_size
from .._znode.paths import basename, join, parse_address
from .provider import NodeSpec, Provider

__all__ = ["CuratorFormat", "encode", "read", "parse_uri_spec", "SERVICE_TYPES", "CURATOR_FIELDS"]

FORMAT = "curator"
DEFAULT_PAYLOAD_CLASS = "java.util.LinkedHashMap"
SERVICE_TYPES = ("DYNAMIC", "STATIC", "PERMANENT", "DYNAMIC_SEQUENTIAL")
#: The fields of a Curator instance that Curator parses into typed values.
CURATOR_FIELDS = ("name", "id", "address", "port", "sslPort", "payload", "registrationTimeUTC", "serviceType",
                  "uriSpec", "enabled")
_JAVA_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


@dataclass(frozen=True)
class CuratorFormat:
    """Options for registering as a Curator service instance.

    :param payload_class: the Java class of the Map payload (``"@class"``); Curator
        clients must have it (``java.util.LinkedHashMap`` works with any payload type
        ``Map``; Spring Cloud Zookeeper uses its ``ZookeeperInstance``).
    :param ssl_port: the instance's ``sslPort``.
    :param uri_spec: a Curator URI spec such as ``"{scheme}://{address}:{port}"``.
    :param service_type: ``DYNAMIC`` (an ephemeral node, the default), ``STATIC`` or
        ``PERMANENT`` (persistent nodes: they stay when the session ends).
    :param instance_id: the instance ID (the node's name); default a random UUID.
    :raises ValueError: for a bad option.
    """

    payload_class: str = DEFAULT_PAYLOAD_CLASS
    ssl_port: int | None = None
    uri_spec: str | None = None
    service_type: str = "DYNAMIC"
    instance_id: str | None = None

    name = FORMAT

    def __post_init__(self) -> None:
        if not isinstance(self.payload_class, str) or not _JAVA_CLASS.match(self.payload_class):
            raise ValueError(f"payload_class {self.payload_class!r} is not a Java class name")
        if self.ssl_port is not None:
            parse_address(("", self.ssl_port))  # ValueError out of range
        if self.uri_spec is not None:
            parse_uri_spec(self.uri_spec)
        if self.service_type not in SERVICE_TYPES[:3]:
            raise ValueError(f"service_type {self.service_type!r}: expected one of {', '.join(SERVICE_TYPES[:3])}")
        if self.instance_id is not None and (
            not isinstance(self.instance_id, str) or not self.instance_id or "/" in self.instance_id
            or self.instance_id in (".", "..")
        ):
            raise ValueError(f"instance_id {self.instance_id!r} is not a node name")

    def node(self, base: str, host: str, port: int, properties: Mapping[str, Any]) -> NodeSpec:
        """The instance node below the service node ``base`` (its name is the last
        segment of ``base``).  Raises ValueError, ValueTooLarge."""
        instance_id = self.instance_id or str(uuid.uuid4())
        path = join(base, instance_id)
        data = encode(basename(base), instance_id, host, port, properties, options=self, path=path)
        return NodeSpec(instance_id, data, ephemeral=self.service_type == "DYNAMIC")


def encode(
    name: str,
    instance_id: str,
    host: str,
    port: int,
    properties: Mapping[str, Any],
    *,
    options: CuratorFormat | None = None,
    registration_time: int | None = None,
    path: str = "?",
) -> bytes:
    """The instance data as Curator writes it; ``registration_time`` in ms (default now).

    Raises ValueError for properties that are not JSON (or use ``"@class"``),
    ValueTooLarge.
    """
    options = options or CuratorFormat()
    for key, value in properties.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: property name {key!r} is not a string")
        if key == "@class":
            raise ValueError(f"{path}: property '@class' is reserved (CuratorFormat(payload_class=...))")
        check_json(value, f"{path}: property {key!r}")
    if registration_time is None:
        registration_time = int(time.time() * 1000)
    uri_spec = None
    if options.uri_spec is not None:
        uri_spec = {"parts": [{"value": v, "variable": var} for v, var in parse_uri_spec(options.uri_spec)]}
    instance = {
        "name": name,
        "id": instance_id,
        "address": host,
        "port": port,
        "sslPort": options.ssl_port,
        "payload": {"@class": options.payload_class, **properties},
        "registrationTimeUTC": registration_time,
        "serviceType": options.service_type,
        "uriSpec": uri_spec,
    }
    return check_size(path, jackson_json(instance).encode("utf-8"))


def read(name: str, data: bytes | None) -> Provider | None:
    """The provider a Curator instance node describes, or None."""
    if not data:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or "address" not in value or "id" not in value or "host" in value:
        return None  # (a zkservices node with properties named address and id has a host)
    host = value.get("address")
    port = value.get("port")
    if port is None:
        port = value.get("sslPort")
    if not isinstance(host, str) or not host or isinstance(port, bool) or not isinstance(port, int):
        return None
    try:
        host, port = parse_address((host, port))
    except ValueError:
        return None
    payload = value.get("payload")
    if isinstance(payload, dict):
        properties = {k: v for k, v in payload.items() if k != "@class"}
    elif payload is None:
        properties = {}
    else:
        properties = {"payload": payload}
    return Provider(name, host, port, properties, FORMAT, value.get("enabled", True) is not False)


def parse_uri_spec(spec: str) -> list[tuple[str, bool]]:
    """A Curator URI spec as ``(text, is_variable)`` parts, as Curator's ``UriSpec``
    splits it.  Raises ValueError where Curator would refuse it."""
    if not isinstance(spec, str):
        raise ValueError(f"uri_spec {spec!r} is not a string")
    parts: list[tuple[str, bool]] = []
    inside = False
    text = ""
    for token in re.split(r"([{}])", spec):
        if token == "{":
            if inside:
                raise ValueError(f"uri_spec {spec!r}: '{{' inside a variable")
            if text:
                parts.append((text, False))
            text, inside = "", True
        elif token == "}":
            if not inside:
                raise ValueError(f"uri_spec {spec!r}: '}}' without '{{'")
            if text:
                parts.append((text, True))
            text, inside = "", False
        else:
            text += token
    if inside:
        raise ValueError(f"uri_spec {spec!r}: a variable is not closed with '}}'")
    if text:
        parts.append((text, False))
    return parts


# -- JSON as Jackson writes it -------------------------------------------------

_ESCAPE = re.compile(r"(\\\\)|\\u([0-9a-f]{4})|([\U00010000-\U0010ffff])")


def _jackson_escape(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1)
    if match.group(2):
        return "\\u" + match.group(2).upper()
    code = ord(match.group(3)) - 0x10000
    return "\\u%04X\\u%04X" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def _jackson_string(text: str) -> str:
    return _ESCAPE.sub(_jackson_escape, json.dumps(text, ensure_ascii=False))


def _java_double(number: float) -> str:
    if number == 0 or 1e-3 <= abs(number) < 1e7:
        return repr(number)
    sign, digits, exponent = decimal.Decimal(repr(number)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + exponent - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def jackson_json(value: Any) -> str:
    """``value`` as compact JSON the way Jackson writes it (keys in the order given)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be stored as JSON")
        return _java_double(value)
    if isinstance(value, str):
        return _jackson_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_jackson_string(k)}:{jackson_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(jackson_json(v) for v in value) + "]"
    raise ValueError(f"{type(value).__name__} value {value!r} cannot be stored as JSON")
