"""The text-form parser as it was before the fast path: the oracle the fast parser is compared with.

A verbatim copy of ``zkservices._tree.text.parse_text`` (line by line, a
JSON or Python literal per value), kept only for the tests.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Callable

from zkservices.errors import TreeError
from zkservices._tree.model import Node
from zkservices._tree.rules import (
    CONTROL,
    MAX_VALUE_DEPTH,
    RESERVED_TOP_LEVEL,
    char_name,
    decode_source,
    describe,
    key_problem,
    link_value_problem,
    node_name_problem,
    to_json,
)

_TYPE_SEPARATOR = re.compile(r"\s+:(?:\s|$)")
_OPERATOR = re.compile(r"\s(=>|->|=)(?:\s|$)")
_COMPACT = re.compile(r"(\S+?)\s*(=>|->|=)(.*)", re.DOTALL)
#: A ``:`` followed by white space or the end: YAML's key separator.
COLON_END = re.compile(r":(?:\s|$)")


def split_entry(line: str) -> tuple[str, str, str] | None:
    """Split a stripped property/link line into ``(name, operator, rest)``, or None."""
    match = _OPERATOR.search(line)
    if match:
        return line[: match.start()].rstrip(), match.group(1), line[match.end() :].strip()
    match = _COMPACT.fullmatch(line)
    if match:
        return match.group(1), match.group(2), match.group(3).strip()
    return None


def text_node_name_problem(name: str) -> str | None:
    """Why the text form cannot hold node name ``name`` (valid for ZooKeeper), or None."""
    if name != name.strip():
        return "node names in the text form must not start or end with white space"
    if COLON_END.search(name):
        return (
            "a ':' followed by white space or ending a node name is not allowed in the text form "
            "(write '/name : type' to give a type; is this a YAML file?)"
        )
    return None


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


class _Frame:
    """A node whose body is still open while parsing."""

    __slots__ = ("indent", "node", "child_indent", "lines", "last")

    def __init__(self, indent: int, node: Node) -> None:
        self.indent = indent
        self.node = node
        self.child_indent: int | None = None
        self.lines: dict[str, int] = {}  # property key -> line it was set on
        self.last = ""  # description of the last property line, for errors


def reference_parse_text(text: str | bytes, filename: str | None = None) -> Node:
    """Parse a tree in the text form; return the root node (name ``""``).

    :param text: the tree, as text or UTF-8 bytes.
    :param filename: named in errors.
    :raises TreeError: naming the line, for anything the grammar refuses.
    :raises TypeError: ``text`` is neither str nor bytes.
    """
    text = decode_source(text, filename)
    root = Node()
    stack = [_Frame(-1, root)]
    for lineno, line in enumerate(text.split("\n"), 1):

        def error(reason: str, lineno: int = lineno) -> TreeError:
            return TreeError(reason, filename=filename, lineno=lineno)

        if line.endswith("\r"):
            line = line[:-1]
        control = CONTROL.search(line)
        if control:
            raise error(f"control character {char_name(control.group())} in the line (binary data?)")
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        stripped = stripped.rstrip()
        if indent and line.count(" ", 0, indent) != indent:
            for char in line[:indent]:
                if char == "\t":
                    raise error("tab in the indentation; indent with spaces only")
                if char != " ":
                    raise error(f"{char_name(char)} in the indentation; indent with spaces only")

        while stack[-1].indent >= indent:
            stack.pop()
        frame = stack[-1]
        if frame.child_indent is None:
            frame.child_indent = indent
        elif indent > frame.child_indent:
            raise error(f"indented under the {frame.last}; only nodes can have indented lines under them")
        elif indent < frame.child_indent:
            raise error("dedent to an indentation level that was never used")

        if stripped.startswith("/"):
            name, type_ = _reference_node_line(stripped, error)
            parent = frame.node
            if parent is root and name == RESERVED_TOP_LEVEL:
                raise error(f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper and cannot be a top-level node")
            if name in parent.children:
                first = parent.children[name].lineno
                raise error(f"duplicate node '/{name}' (first defined on line {first})")
            node = Node(name, lineno=lineno)
            parent.children[name] = node
            child = _Frame(indent, node)
            if type_ is not None:
                node.properties["type"] = type_
                child.lines["type"] = lineno
            stack.append(child)
            continue

        parts = split_entry(stripped)
        if parts is None:
            hint = ""
            if COLON_END.search(stripped):
                hint = " (a YAML line? YAML trees must start with a '/name:' key)"
            raise error(
                "unrecognized line, expected '/name [: type]', 'name = value', "
                f"'name -> target' or 'name => path [name]': {stripped!r}{hint}"
            )
        name, op, rest = parts
        what = describe(op, name)
        if frame.node is root:
            where = "above the first node" if not root.children else "at the top level"
            raise error(f"{what} {where}; properties and links must be indented under a node")
        key = name if op == "=" else f"{name} {op}"
        problem = key_problem(key)
        if problem:
            raise error(problem)
        if op == "=":
            if not rest:
                raise error(f"{what} has no value")
            try:
                value = parse_value(rest)
            except ValueError as e:
                raise error(f"{what}: {e}") from None
        else:
            problem = link_value_problem(op, rest)
            if problem:
                raise error(f"{what}: {problem}")
            value = rest
        if key in frame.lines:
            raise error(f"duplicate {what} (first defined on line {frame.lines[key]})")
        frame.node.properties[key] = value
        frame.lines[key] = lineno
        frame.last = f"{what} on line {lineno}"
    return root


def _reference_node_line(stripped: str, error: Callable[[str], TreeError]) -> tuple[str, str | None]:
    rest = stripped[1:]
    separator = _TYPE_SEPARATOR.search(rest)
    type_: str | None = None
    if separator:
        name = rest[: separator.start()]
        type_ = rest[separator.end() :].strip()
        if not type_:
            raise error(f"missing type after ' : ' in {stripped!r}")
    else:
        name = rest
    problem = node_name_problem(name)
    if problem:
        raise error(f"invalid node name {name!r}: {problem}")
    problem = text_node_name_problem(name)
    if problem:
        raise error(f"invalid node name {name!r}: {problem}")
    return name, type_
