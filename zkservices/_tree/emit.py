"""Writing trees in the text and the YAML form, deterministically, at any depth.

Properties (sorted by key) come before children (sorted by name), two spaces
of indentation per level, values as ``json.dumps(value, ensure_ascii=False,
sort_keys=True)`` (with U+0085, U+2028 and U+2029 escaped too, so that no tool
sees a line break inside a value), links as ``name -> target`` and property
links as ``name => target``.  In the text form ``type`` goes on the node line
when it is a non-empty string without control characters or Unicode line
breaks and without leading or trailing white space; otherwise it is written
as a ``type = ...`` property line.  The YAML form (``yamlemit.py``) is PyYAML's
``SafeDumper`` output.  The output ends with a newline; an empty root gives
``""``.

What the text form cannot hold is refused with a ``ValueError`` naming the
node path and the property rather than written lossily: property (and link)
names that start with ``/`` or ``#``, start or end with white space, contain
a control character, or contain ``=``, ``->`` or ``=>`` with white space
before it and white space after it or at the end of the name (``a = b``,
``a =``); node names that start or end with white space or contain ``:``
followed by white space or at the end; link targets or property-link values
with leading/trailing white space or control characters.  The YAML form can
hold all of these.  Both forms refuse what no form can hold: invalid node
names, non-JSON values (values nested too deeply included), empty or
non-string link targets, malformed property links, property names that are
empty or start with ``/``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from .model import Node
from .rules import (
    CONTROL,
    RESERVED_TOP_LEVEL,
    UNICODE_BREAKS,
    describe,
    key_problem,
    link_value_problem,
    node_name_problem,
    split_key,
    to_json,
)
from .text import split_entry, text_node_name_problem

__all__ = ["emit_text", "checked_property", "walk_sorted", "sort_key"]


def walk_sorted(root: Node) -> Iterator[tuple[int, str, str, Node]]:
    """Yield ``(depth, path, name, node)`` below ``root``, pre-order, sorted, checking names."""
    pending = [(0, "", root)]
    while pending:
        depth, path, node = pending.pop()
        names = sorted(node.children, reverse=True)
        for name in names:
            child = node.children[name]
            child_path = f"{path}/{name}"
            problem = node_name_problem(name)
            if problem:
                raise ValueError(f"cannot write node {child_path!r}: invalid node name {name!r}: {problem}")
            if depth == 0 and name == RESERVED_TOP_LEVEL:
                raise ValueError(f"cannot write node {child_path!r}: '/{RESERVED_TOP_LEVEL}' is reserved")
            if child.name != name:
                raise ValueError(f"cannot write node {child_path!r}: it is named {child.name!r}")
            pending.append((depth + 1, child_path, child))
        if node is not root:
            yield depth - 1, path, path.rsplit("/", 1)[1], node
        elif node.properties:
            raise ValueError("cannot write properties of the root node; they have no place in a tree")


def checked_property(path: str, key: object, value: Any) -> tuple[str, str, Any]:
    """Check a property of node ``path`` for writing; return ``(op, base, value as JSON)``.

    :raises ValueError: naming the node and the property, when no tree form can hold it.
    """
    problem = key_problem(key)
    if problem:
        raise ValueError(f"cannot write property {key!r} of node {path}: {problem}")
    assert isinstance(key, str)
    op, base = split_key(key)
    problem = link_value_problem(op, value)
    if problem:
        raise ValueError(f"cannot write {describe(op, base)} of node {path}: {problem}")
    try:
        return op, base, to_json(value)
    except ValueError as e:
        raise ValueError(f"cannot write property {key!r} of node {path}: {e}") from None


def sort_key(key: object) -> tuple[str, str]:
    # Keys are checked while writing; this only has to sort anything safely.
    return (type(key).__name__, str(key))


# ---------------------------------------------------------------------------
# Text


def _inline_type(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value)
        and value == value.strip()
        and not CONTROL.search(value)
        and not UNICODE_BREAKS.search(value)
    )


# (json.dumps with these options, made once: dumps makes an encoder per call)
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, allow_nan=False).encode


#: Strings whose JSON is themselves in quotes: printable ASCII without ``"`` and ``\\``.
_VERBATIM = re.compile(r'[ !#-\[\]-~]*\Z')


def _json_text(value: Any) -> str:
    """One-line JSON; U+0085, U+2028, U+2029 escaped so no tool sees a line break."""
    kind = value.__class__
    if kind is str and _VERBATIM.match(value):  # (the common cases, without the encoder)
        return f'"{value}"'
    if kind is int:
        return int.__repr__(value)
    text = _dumps(value)
    return UNICODE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@functools.lru_cache(maxsize=4096)
def _text_name_problem(base: str) -> str | None:
    if base.startswith(("/", "#")):
        return "it starts with '/' or '#'"
    if base != base.strip():
        return "it starts or ends with white space"
    if CONTROL.search(base):
        return "it contains a control character"
    probe = f"{base} = 0"
    if split_entry(probe) != (base, "=", "0"):
        return "it contains '=', '->' or '=>' between white space"
    return None


def emit_text(root: Node, *, checked: bool = False) -> str:
    """The tree below ``root`` in the text form; ValueError for what it cannot hold.

    ``checked``: every property passed :func:`checked_property` already (an
    export's nodes, see ``exported``), so it is not checked again.
    """
    lines = []
    for depth, path, name, node in walk_sorted(root):
        indent = "  " * depth
        problem = text_node_name_problem(name)
        if problem:
            raise ValueError(f"cannot write node {path!r} in the text form: {problem}; use format='yaml'")
        properties = dict(node.properties)
        head = f"{indent}/{name}"
        if "type" in properties and _inline_type(properties["type"]):
            head += f" : {properties.pop('type')}"
        lines.append(head)
        for key in sorted(properties, key=sort_key):
            if checked:
                op, base = split_key(key)
                value = properties[key]
            else:
                op, base, value = checked_property(path, key, properties[key])
            problem = _text_name_problem(base)
            if op == "=":
                rendered = _json_text(value)
            else:
                rendered = value
                if value != value.strip() or CONTROL.search(value):
                    problem = problem or "its value starts or ends with white space or has control characters"
            if problem:
                raise ValueError(
                    f"cannot write {describe(op, base)} of node {path} in the text form: {problem};"
                    " use format='yaml'"
                )
            lines.append(f"{indent}  {base} {op} {rendered}")
    return "".join(line + "\n" for line in lines)
