"""The text form of a tree (zc.zk's, with literal values): its grammar and its parser.

::

    # comment
    /fooservice : z4m cms
      threads = 3
      database = "/databases/main"
      db -> /databases/main
      threads_copy => ../cms threads
      /providers

- Lines are split on ``\\n`` only (a trailing ``\\r`` is dropped, so CRLF
  files work).  A UTF-8 byte order mark at the start is ignored.  Bytes are
  decoded as UTF-8; undecodable bytes and control characters (below U+0020,
  except tab) are errors naming the line.
- Blank lines and lines whose first non-blank character is ``#`` are ignored.
- Indentation is spaces only; a tab (or any other white space) in the
  indentation is an error.  A deeper indentation than the previous line's
  opens the body of the node on that line; dedenting must return to a level
  used before.  The first entry may be indented; later top-level entries
  must use the same indentation.  Nodes may nest to any depth.
- A node line is ``/NAME`` or ``/NAME : TYPE``.  The type separator is the
  first ``:`` that has white space before it and white space or the line end
  after it; the type is the rest of the line, stripped (no comments are
  recognised there).  ``NAME`` must be a valid ZooKeeper node name and, in
  this form, must not start or end with white space nor contain a ``:``
  followed by white space or ending the name (so ``/foo: bar``, the YAML
  habit, is an error instead of a node called ``"foo: bar"``).
  ``/127.0.0.1:8080`` is fine.
- Other lines are ``NAME = VALUE`` (property), ``NAME -> TARGET`` (symbolic
  link) or ``NAME => PATH [NAME]`` (property link).  The operator is the first
  ``=``, ``->`` or ``=>`` that has white space on both sides (or white space
  before it and the line end after it); so ``a=b = 1`` sets property
  ``a=b``.  Only when no operator has white space around it, zc.zk's compact
  spelling is accepted: ``threads=3``, ``db->/x`` (the name is then the text
  before the first operator and cannot contain white space).
- ``VALUE`` is parsed with :func:`json.loads`, then, if that fails, with
  :func:`ast.literal_eval` (so Python literals such as ``True``, ``None``,
  ``'single'``, ``(1, 2)`` work).  Nothing is ever evaluated.  The result must
  be representable in JSON: tuples become lists; sets, bytes, complex
  numbers, NaN, infinities, non-string object keys and lists or objects
  nested more than 100 levels deep are errors.
- Comments at the end of a property line: a ``#`` outside a string literal
  starts a comment.  Python's parser skips such comments by itself
  (``threads = 3  # per CPU``); for JSON-only spellings (``flag = true  # x``)
  the text before each ``#`` is tried in turn, leftmost first, when the whole
  value is not a literal.  A ``#`` inside a string literal is always part of
  the string.  Node lines and link lines have no trailing comments: a ``#``
  there is part of the type or target.
- A symbolic link target must not be empty.  A property link value must be
  ``PATH`` or ``PATH NAME`` (one or two words separated by spaces or tabs).
- Errors (:class:`~zkservices.TreeError`, a ``ValueError``, naming the line):
  a property or link above the first node or at the top level, a duplicate
  node, property or link at one level (``/x : t`` plus ``type = ...`` is a
  duplicate ``type``), a dedent to a level never used, anything indented
  under a property or link, an invalid node name, a value that is not a
  literal, undecodable bytes, control characters, tabs in indentation,
  lines that are none of the above.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Callable

from ..errors import TreeError
from .model import Node
from .rules import (
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

__all__ = ["parse_text", "parse_value", "split_entry", "text_node_name_problem", "COLON_END"]

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


def parse_text(text: str | bytes, filename: str | None = None) -> Node:
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
            name, type_ = _parse_node_line(stripped, error)
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


def _parse_node_line(stripped: str, error: Callable[[str], TreeError]) -> tuple[str, str | None]:
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
