"""Property values of the text form: reading a value's text, and writing a value as JSON.

:func:`parse_value` reads ``VALUE`` of a ``NAME = VALUE`` line as the text
form's grammar says (:mod:`.text`): JSON, else a Python literal, else the
text before a trailing ``#`` comment, leftmost first; the result must be
JSON data.  :func:`fragment` writes a property as the member of node data it
becomes (``"name":value``, compact, non-ASCII kept): node data is ``{`` +
the members joined by ``,`` + ``}``, exactly as ``encode`` writes it.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from .rules import MAX_VALUE_DEPTH, to_json

__all__ = ["parse_value", "fragment"]

_FAILED = object()
_TOO_DEEP = object()


def _literal(text: str) -> Any:
    """The value of ``text`` as JSON, else as a Python literal, else ``_FAILED`` or ``_TOO_DEEP``."""
    too_deep = False
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        too_deep = True
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except RecursionError:
        return _TOO_DEEP
    except (ValueError, TypeError, SyntaxError, MemoryError):
        return _TOO_DEEP if too_deep else _FAILED


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_value(text: str) -> Any:
    """Parse a property value of the text form (rules in the module docstring).

    Returns the value as JSON data; raises ValueError with the reason.
    """
    value = _literal(text)
    if value is _FAILED or value is _TOO_DEEP:
        for index, char in enumerate(text):
            if char == "#":
                prefix = text[:index].rstrip()
                if prefix:
                    candidate = _literal(prefix)
                    if candidate is not _FAILED and candidate is not _TOO_DEEP:
                        value = candidate
                        break
    if value is _TOO_DEEP:
        raise ValueError(f"value nests lists or objects more than {MAX_VALUE_DEPTH} levels deep")
    if value is _FAILED:
        raise ValueError(f"value is not a JSON or Python literal: {text}")
    try:
        return to_json(value)
    except ValueError as e:
        raise ValueError(f"value {text} is not representable in JSON: {e}") from None


_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def fragment(key: str, value: Any) -> str | None:
    """``"key":value`` as node data holds it (compact JSON), or None if it cannot be written."""
    try:
        return _encode_json(key) + ":" + _encode_json(value)
    except (ValueError, TypeError, RecursionError):
        return None
