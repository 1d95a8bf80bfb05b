"""Node data encoding: properties as compact UTF-8 JSON objects.

- ``encode`` writes ``{"b":2}`` (compact, keys in the order given, non-ASCII
  kept as UTF-8) and refuses data over :data:`MAX_DATA_SIZE` before anything
  is sent;
- ``decode`` reads empty or ``null`` data as ``{}``, a JSON object as a dict,
  and anything else (not JSON -- invalid UTF-8, ``NaN``, ``Infinity`` and out-of-range numbers
  included -- or JSON that is not an object) as
  ``{'string_value': text}``.  Such data is flagged so writers never replace it
  by accident.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from ..errors import ValueTooLarge

__all__ = ["encode", "decode", "is_json_object", "MAX_DATA_SIZE", "check_size", "check_json"]

# ZooKeeper's default jute.maxbuffer is 0xfffff bytes for a whole request; keep
# room for the path and the request header.
MAX_DATA_SIZE = 0xFFFFF - 4096


def check_size(path: str, data: bytes) -> bytes:
    """Return ``data``; raise ValueTooLarge naming ``path`` when it is over the limit."""
    if len(data) > MAX_DATA_SIZE:
        raise ValueTooLarge(
            f"{path}: encoded data is {len(data):,} bytes, over ZooKeeper's node size limit "
            f"({MAX_DATA_SIZE:,} bytes); nothing was written"
        )
    return data


def check_json(value: Any, where: str) -> None:
    """Raise ValueError naming ``where`` when ``value`` cannot be stored as JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} cannot be stored as JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            check_json(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]")
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise ValueError(f"{where}: {type(value).__name__} value {value!r} cannot be stored as JSON")


def encode(properties: Mapping[str, Any], *, path: str = "?") -> bytes:
    """Encode a properties mapping; raise ValueError/ValueTooLarge naming ``path``."""
    for key, value in properties.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: property name {key!r} is not a string")
        check_json(value, f"{path}: property {key!r}")
    data = json.dumps(dict(properties), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return check_size(path, data)


def decode(data: bytes | None) -> dict[str, Any]:
    """Decode node data into a properties dict (see the module docstring)."""
    if not data:
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8, so not JSON (even if it looks like an object)
        return {"string_value": data.decode("utf-8", "replace")}
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # not JSON, NaN/Infinity, absurdly deep
        return {"string_value": text}
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"string_value": text}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON syntax, but no JSON value
        raise ValueError(f"{text} is out of range")
    return value


def is_json_object(data: bytes | None) -> bool:
    """True when ``data`` decodes as properties without the ``string_value`` fallback."""
    if not data:
        return True
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return False
    return value is None or isinstance(value, dict)
