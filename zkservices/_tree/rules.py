"""What a tree may hold, in both forms: node names, property keys, link values, JSON values.

Node names follow ZooKeeper's rules: not empty, no ``/``, not ``.`` or
``..``, none of U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0 and
above (ZooKeeper rejects these, which includes every character outside the
Basic Multilingual Plane); ``zookeeper`` is reserved at the top level.  Link
names (``name`` in ``name -> target``) name a child, so they follow the same
rules.

Property keys are non-empty strings that do not start with ``/``; a key
ending in `` ->`` is a symbolic link (its value a non-empty target string), a
key ending in `` =>`` a property link (its value ``PATH`` or ``PATH NAME``).

Property values are JSON: ``None``, booleans, integers, finite floats,
strings, lists (tuples become lists) and objects with string keys, nested at
most :data:`MAX_VALUE_DEPTH` levels of lists and objects.  The limit keeps
every reader and writer of values clear of Python's recursion limit; node
data nested deeper reads (and exports) as a ``string_value``.

Every check here returns the reason a thing is invalid, or None: the parsers
turn reasons into :class:`~zkservices.TreeError` naming the line, the
writers into ``ValueError`` naming the node.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from .._znode.links import LINK_SUFFIX, PROPERTY_LINK_SUFFIX
from ..errors import TreeError

__all__ = [
    "LINK_SUFFIX",
    "PROPERTY_LINK_SUFFIX",
    "RESERVED_TOP_LEVEL",
    "MAX_VALUE_DEPTH",
    "CONTROL",
    "UNICODE_BREAKS",
    "char_name",
    "node_name_problem",
    "split_key",
    "describe",
    "key_problem",
    "link_value_problem",
    "too_deep",
    "to_json",
    "decode_source",
]

RESERVED_TOP_LEVEL = "zookeeper"

#: Lists and objects nest at most this deep in a property value.
MAX_VALUE_DEPTH = 100

# Characters ZooKeeper's PathUtils.validatePath rejects.  Java strings are
# UTF-16, so everything outside the BMP shows up as rejected surrogates.
_BAD_NODE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\U0010ffff]")
#: Control characters a text-form line must not contain (tab is allowed).
CONTROL = re.compile("[\x00-\x08\x0a-\x1f]")
#: Line breaks for str.splitlines() and YAML, though not for the text form.
UNICODE_BREAKS = re.compile("[\x85\u2028\u2029]")
_PROPERTY_LINK = re.compile(r"\S+(?:[ \t]+\S+)?")


def char_name(ch: str) -> str:
    """``'U+00A0'`` for a character: how errors name characters."""
    return f"U+{ord(ch):04X}"


def node_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid ZooKeeper node name, or None."""
    if not isinstance(name, str):
        return f"node names must be strings, not {type(name).__name__}"
    if not name:
        return "empty node name"
    if "/" in name:
        return "a node name must not contain '/'"
    if name in (".", ".."):
        return f"{name!r} is not allowed as a node name"
    bad = _BAD_NODE_CHAR.search(name)
    if bad:
        return f"character {char_name(bad.group())} is not allowed in node names"
    return None


def split_key(key: str) -> tuple[str, str]:
    """``('=', key)``, ``('->', base)`` or ``('=>', base)`` for a property key."""
    if key.endswith(LINK_SUFFIX):
        return "->", key[: -len(LINK_SUFFIX)]
    if key.endswith(PROPERTY_LINK_SUFFIX):
        return "=>", key[: -len(PROPERTY_LINK_SUFFIX)]
    return "=", key


def describe(op: str, base: str) -> str:
    """``"property 'x'"``, ``"symbolic link 'x'"`` or ``"property link 'x'"`` (for errors)."""
    if op == "->":
        return f"symbolic link {base!r}"
    if op == "=>":
        return f"property link {base!r}"
    return f"property {base!r}"


def key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a property key (of a property, link or property link), or None."""
    if not isinstance(key, str):
        return f"property names must be strings, not {type(key).__name__}"
    return _str_key_problem(key)


# The same few property names recur across thousands of nodes in an export.
@functools.lru_cache(maxsize=4096)
def _str_key_problem(key: str) -> str | None:
    if not key:
        return "empty property name"
    if key.startswith("/"):
        return f"property name {key!r} starts with '/' (that would be a node)"
    op, base = split_key(key)
    if op == "=":
        return None
    what = "link" if op == "->" else "property link"
    if not base:
        return f"{what} without a name"
    if base.endswith((LINK_SUFFIX, PROPERTY_LINK_SUFFIX)):
        return f"{what} name {base!r} itself ends with ' ->' or ' =>'"
    if base.startswith("/"):
        return f"{what} name {base!r} starts with '/'"
    if op == "->":
        problem = node_name_problem(base)
        if problem:
            return f"a symbolic link names a child, so {base!r} must be a valid node name: {problem}"
    return None


def link_value_problem(op: str, value: object) -> str | None:
    """Why ``value`` cannot be the value of a link of kind ``op`` (``'->'`` or ``'=>'``), or None.

    Any value passes for ``op == '='`` (a plain property).
    """
    if op == "->":
        if not isinstance(value, str):
            return f"a symbolic link target must be a string, not {type(value).__name__}"
        if not value.strip():
            return "empty symbolic link target"
    elif op == "=>":
        if not isinstance(value, str):
            return f"a property link must be a string 'PATH [NAME]', not {type(value).__name__}"
        if not value.strip():
            return "empty property link; expected 'PATH [NAME]'"
        if not _PROPERTY_LINK.fullmatch(value):
            return f"malformed property link {value!r}; expected 'PATH [NAME]'"
    return None


def too_deep(value: Any, limit: int = MAX_VALUE_DEPTH) -> bool:
    """True when lists and mappings nest more than ``limit`` levels deep in ``value``.

    Iterative, and ends on self-containing values too (they are too deep).
    """
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (list, tuple)):
            inner: Any = item
        elif isinstance(item, Mapping):
            inner = item.values()
        else:
            continue
        if level > limit:
            return True
        pending.extend((x, level + 1) for x in inner if isinstance(x, (list, tuple, Mapping)))
    return False


_SCALARS = (str, int, bool)


def to_json(value: Any) -> Any:
    """Return ``value`` as plain JSON data (tuples become lists); ValueError saying why if impossible."""
    if value is None or value.__class__ in _SCALARS:
        return value
    if too_deep(value):
        raise ValueError(f"lists and objects nest more than {MAX_VALUE_DEPTH} levels deep")
    return _converted(value)


def _converted(value: Any) -> Any:
    # (recursion is bounded: to_json checked the depth first)
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be represented in JSON")
        return value
    if isinstance(value, (list, tuple)):
        return [_converted(item) for item in value]
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"JSON object keys must be strings, not {type(key).__name__} {key!r}")
            result[key] = _converted(item)
        return result
    raise ValueError(f"{type(value).__name__} values cannot be represented in JSON")


def decode_source(data: str | bytes, filename: str | None) -> str:
    """A tree file's text: bytes decoded as UTF-8 (TreeError naming the line if not), BOM dropped."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            lineno = data.count(b"\n", 0, e.start) + 1
            raise TreeError(
                f"not UTF-8 text: cannot decode byte 0x{data[e.start]:02x} (binary data?)",
                filename=filename,
                lineno=lineno,
            ) from None
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError(f"a tree must be str or bytes, not {type(data).__name__}")
    return text[1:] if text.startswith("\ufeff") else text
