"""The tree format: ZooKeeper trees as text or YAML, parsed and written without a server.

This module is pure: it turns tree files into :class:`Node` objects and back.
``import_tree``/``export_tree`` (elsewhere) move those nodes in and out of
ZooKeeper.  Status: stable; the text form is zc.zk's, with values that are
literals instead of ``eval``'d code.

The model
=========

A :class:`Node` has a ``name`` (``""`` for the root), ``children`` (name ->
Node, in file order) and ``properties`` (a dict of JSON values).  Special
property keys:

- ``'type'`` -- the node type (``/name : type`` in the text form);
- ``'db ->'`` with a str value ``'/x'`` -- a symbolic link: child path ``db``
  is an alias of ``/x``;
- ``'t =>'`` with a str value ``'../cms threads'`` -- a property link
  (``PATH [NAME]``).

The root node stands for the place the tree is imported to; its children are
the top-level entries of the file and it never has properties.

Text form
=========

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
  must use the same indentation.
- A node line is ``/NAME`` or ``/NAME : TYPE``.  The type separator is the
  first ``:`` that has white space before it and white space or the line end
  after it; the type is the rest of the line, stripped (no comments are
  recognised there).  ``NAME`` must be a valid ZooKeeper node name (see
  below) and, in this form, must not start or end with white space nor
  contain a ``:`` followed by white space or ending the name (so
  ``/foo: bar``, the YAML habit, is an error instead of a node called
  ``"foo: bar"``).  ``/127.0.0.1:8080`` is fine.
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
  numbers, NaN, infinities and non-string object keys are errors.
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

YAML form
=========

::

    /fooservice:
      type: z4m cms
      threads: 3
      db ->: /databases/main
      threads_copy =>: ../cms threads
      /providers: {}

Read with PyYAML's ``SafeLoader`` only (composed, then walked node by node so
that errors name lines).  Keys starting with ``/`` are child nodes (value: a
mapping, or nothing/``null``); keys ending in `` ->`` are symbolic links and
keys ending in `` =>`` property links (string values); every other key is a
property with any JSON value (``type`` is just a property).  The top level
must be a mapping of ``/name`` keys only.  Duplicate keys (anywhere, also in
nested values) are errors, as are non-string keys, merge keys (``<<``),
tags other than the standard JSON-like ones, values that are not JSON
(timestamps, binary, NaN, ...) and recursive aliases.

Telling the forms apart (:func:`detect_format`)
===============================================

Only the first line that is neither blank nor a ``#`` comment decides.  With
``s`` that line stripped, the tree is YAML when ``s`` starts with ``---``,
``%``, ``{``, ``?``, ``'`` or ``"``, or when ``s`` starts with ``/`` and the
first ``:`` followed by white space or the line end comes right after a
non-blank character (``/fooservice:``, ``/fooservice: {}``).  Everything
else is the text form: ``/fooservice : z4m cms`` (blank before the colon),
``/10.0.0.1:8080`` (no blank after it), ``/fooservice``.  So YAML files must
write ``/name:`` with the colon attached, and a text file cannot start with
a node whose name ends in ``:`` (such names are not allowed in the text form
anyway).

Writing (:func:`emit_tree`)
===========================

Deterministic: properties (sorted by key) come before children (sorted by
name), two spaces of indentation per level, values as
``json.dumps(value, ensure_ascii=False, sort_keys=True)`` (with U+0085,
U+2028 and U+2029 escaped too, so that no tool sees a line break inside a
value), links as ``name -> target`` and property links as ``name => target``.
In the text form ``type`` goes on the node line when it is a non-empty string
without control characters or Unicode line breaks and without leading or
trailing white space; otherwise it is written as a ``type = ...`` property
line.  The YAML form is written by PyYAML's ``SafeDumper`` (block style,
Unicode kept, no line wrapping, strings holding U+0085/U+2028/U+2029 double
quoted to work around a PyYAML quoting bug).  The output ends with a
newline; an empty root gives ``""``.

What the text form cannot hold, :func:`emit_tree` refuses with a
``ValueError`` naming the node path and the property rather than write it
lossily: property (and link) names that start with ``/`` or ``#``, start or
end with white space, contain a control character, or contain ``=``,
``->`` or ``=>`` with white space before it and white space after it or at
the end of the name (``a = b``, ``a =``); node names that start or end with
white space or contain ``:`` followed by white space or at the end; link
targets or property-link values with leading/trailing white space or control
characters.  The YAML form can hold all of these.  Both forms refuse what no
form can hold: invalid node names, non-JSON values, empty or non-string link
targets, malformed property links, property names that are empty or start
with ``/``.

Node names follow ZooKeeper's rules: not empty, no ``/``, not ``.`` or
``..``, none of U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0 and
above (ZooKeeper rejects these, which includes every character outside the
Basic Multilingual Plane); ``zookeeper`` is reserved at the top level.  Link
names (``name`` in ``name -> target``) name a child, so they follow the same
rules.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Callable

import yaml

from .errors import TreeError

__all__ = [
    "Node",
    "detect_format",
    "emit_tree",
    "iter_nodes",
    "parse_text",
    "parse_tree",
    "parse_yaml",
]

logger = logging.getLogger("zkservices.tree")

LINK_SUFFIX = " ->"
PROPERTY_LINK_SUFFIX = " =>"
RESERVED_TOP_LEVEL = "zookeeper"
FORMATS = ("text", "yaml")


class Node:
    """One node of a parsed tree.

    ``name`` is the node's name (``""`` for the root), ``children`` maps child
    names (without a slash) to nodes in insertion order, ``properties`` holds
    JSON values (``'type'``, ``'name ->'`` links and ``'name =>'`` property
    links included) and ``lineno`` is the line the node was defined on, when
    it came from a file.

    Equality is structural and ignores ``lineno`` and order; property values
    are compared as JSON, so ``True``, ``1`` and ``1.0`` differ.
    """

    __slots__ = ("name", "children", "properties", "lineno")
    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(
        self,
        name: str = "",
        properties: dict[str, Any] | None = None,
        children: dict[str, Node] | None = None,
        *,
        lineno: int | None = None,
    ) -> None:
        self.name = name
        self.properties: dict[str, Any] = {} if properties is None else properties
        self.children: dict[str, Node] = {} if children is None else children
        self.lineno = lineno

    def __repr__(self) -> str:
        parts = [repr(self.name)]
        if self.properties:
            parts.append(f"properties={self.properties!r}")
        if self.children:
            parts.append(f"children=[{', '.join(map(repr, self.children))}]")
        if self.lineno is not None:
            parts.append(f"lineno={self.lineno}")
        return f"Node({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        pending: list[tuple[Node, Node]] = [(self, other)]
        while pending:
            a, b = pending.pop()
            if (
                a.name != b.name
                or a.children.keys() != b.children.keys()
                or not _same_json(a.properties, b.properties)
            ):
                return False
            pending.extend((child, b.children[name]) for name, child in a.children.items())
        return True


# ---------------------------------------------------------------------------
# Names and values (shared by both forms)

# Characters ZooKeeper's PathUtils.validatePath rejects.  Java strings are
# UTF-16, so everything outside the BMP shows up as rejected surrogates.
_BAD_NODE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\U0010ffff]")
# Control characters a text-form line must not contain (tab is allowed).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f]")
_PROPERTY_LINK = re.compile(r"\S+(?:[ \t]+\S+)?")
# Line breaks for str.splitlines() and YAML, though not for this module's text form.
_UNICODE_BREAKS = re.compile("[\x85\u2028\u2029]")


def _char(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _node_name_problem(name: object) -> str | None:
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
        return f"character {_char(bad.group())} is not allowed in node names"
    return None


def _split_key(key: str) -> tuple[str, str]:
    """``('=', key)``, ``('->', base)`` or ``('=>', base)`` for a property key."""
    if key.endswith(LINK_SUFFIX):
        return "->", key[: -len(LINK_SUFFIX)]
    if key.endswith(PROPERTY_LINK_SUFFIX):
        return "=>", key[: -len(PROPERTY_LINK_SUFFIX)]
    return "=", key


def _describe(op: str, base: str) -> str:
    if op == "->":
        return f"symbolic link {base!r}"
    if op == "=>":
        return f"property link {base!r}"
    return f"property {base!r}"


def _key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a property key, or None."""
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
    op, base = _split_key(key)
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
        problem = _node_name_problem(base)
        if problem:
            return f"a symbolic link names a child, so {base!r} must be a valid node name: {problem}"
    return None


def _link_value_problem(op: str, value: object) -> str | None:
    """Why ``value`` cannot be the value of a link of kind ``op``, or None."""
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


def _to_json(value: Any) -> Any:
    """Return ``value`` as plain JSON data (tuples become lists); ValueError if impossible."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be represented in JSON")
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"JSON object keys must be strings, not {type(key).__name__} {key!r}")
            result[key] = _to_json(item)
        return result
    raise ValueError(f"{type(value).__name__} values cannot be represented in JSON")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind.__name__
    return "other" if value is not None else "null"


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality: like ``==`` but ``True``, ``1``, ``1.0`` and ``-0.0``/``0.0`` differ."""
    kind = _json_kind(a)
    if kind != _json_kind(b):
        return False
    if kind == "dict":
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if kind == "list":
        return len(a) == len(b) and all(map(_same_json, a, b))
    if kind == "float":
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


_FAILED = object()


def _literal(text: str) -> Any:
    """The value of ``text`` as JSON, else as a Python literal, else ``_FAILED``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _FAILED


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_value(text: str) -> Any:
    """Parse a property value (see the module docstring); ValueError with a reason."""
    value = _literal(text)
    if value is _FAILED:
        for index, char in enumerate(text):
            if char == "#":
                prefix = text[:index].rstrip()
                if prefix:
                    value = _literal(prefix)
                    if value is not _FAILED:
                        break
    if value is _FAILED:
        raise ValueError(f"value is not a JSON or Python literal: {text}")
    try:
        return _to_json(value)
    except ValueError as e:
        raise ValueError(f"value {text} is not representable in JSON: {e}") from None


def _decode(data: str | bytes, filename: str | None) -> str:
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


# ---------------------------------------------------------------------------
# Format detection

_YAML_STARTS = ("---", "%", "{", "?", "'", '"')
_COLON_END = re.compile(r":(?:\s|$)")


def detect_format(text: str | bytes) -> str:
    """Return ``'yaml'`` or ``'text'``: which form ``text`` is in (rule in the module docstring)."""
    text = _decode(text, None)
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(_YAML_STARTS):
            return "yaml"
        if stripped.startswith("/"):
            colon = _COLON_END.search(stripped)
            if colon and not stripped[colon.start() - 1].isspace():
                return "yaml"
        return "text"
    return "text"


def parse_tree(text: str | bytes, *, filename: str | None = None) -> Node:
    """Parse a tree in the text or the YAML form (detected by :func:`detect_format`).

    Returns the root node (name ``""``) whose children are the top-level
    entries.  Raises :class:`~zkservices.TreeError` naming the line.
    """
    text = _decode(text, filename)
    form = detect_format(text)
    logger.debug("parsing %s as %s", filename or "<string>", form)
    if form == "yaml":
        return parse_yaml(text, filename=filename)
    return parse_text(text, filename=filename)


# ---------------------------------------------------------------------------
# Text form

_TYPE_SEPARATOR = re.compile(r"\s+:(?:\s|$)")
_OPERATOR = re.compile(r"\s(=>|->|=)(?:\s|$)")
_COMPACT = re.compile(r"(\S+?)\s*(=>|->|=)(.*)", re.DOTALL)


def _split_entry(line: str) -> tuple[str, str, str] | None:
    """Split a stripped property/link line into ``(name, operator, rest)``."""
    match = _OPERATOR.search(line)
    if match:
        return line[: match.start()].rstrip(), match.group(1), line[match.end() :].strip()
    match = _COMPACT.fullmatch(line)
    if match:
        return match.group(1), match.group(2), match.group(3).strip()
    return None


class _Frame:
    """A node whose body is still open while parsing the text form."""

    __slots__ = ("indent", "node", "child_indent", "lines", "last")

    def __init__(self, indent: int, node: Node) -> None:
        self.indent = indent
        self.node = node
        self.child_indent: int | None = None
        self.lines: dict[str, int] = {}  # property key -> line it was set on
        self.last = ""  # description of the last property line, for errors


def parse_text(text: str | bytes, filename: str | None = None) -> Node:
    """Parse a tree in the text form (see the module docstring); return the root node."""
    text = _decode(text, filename)
    root = Node()
    stack = [_Frame(-1, root)]
    for lineno, line in enumerate(text.split("\n"), 1):

        def error(reason: str, lineno: int = lineno) -> TreeError:
            return TreeError(reason, filename=filename, lineno=lineno)

        if line.endswith("\r"):
            line = line[:-1]
        control = _CONTROL.search(line)
        if control:
            raise error(f"control character {_char(control.group())} in the line (binary data?)")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indentation = line[: len(line) - len(line.lstrip())]
        for char in indentation:
            if char == "\t":
                raise error("tab in the indentation; indent with spaces only")
            if char != " ":
                raise error(f"{_char(char)} in the indentation; indent with spaces only")
        indent = len(indentation)

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

        parts = _split_entry(stripped)
        if parts is None:
            hint = ""
            if _COLON_END.search(stripped):
                hint = " (a YAML line? YAML trees must start with a '/name:' key)"
            raise error(
                "unrecognized line, expected '/name [: type]', 'name = value', "
                f"'name -> target' or 'name => path [name]': {stripped!r}{hint}"
            )
        name, op, rest = parts
        what = _describe(op, name)
        if frame.node is root:
            where = "above the first node" if not root.children else "at the top level"
            raise error(f"{what} {where}; properties and links must be indented under a node")
        key = name if op == "=" else f"{name} {op}"
        problem = _key_problem(key)
        if problem:
            raise error(problem)
        if op == "=":
            if not rest:
                raise error(f"{what} has no value")
            try:
                value = _parse_value(rest)
            except ValueError as e:
                raise error(f"{what}: {e}") from None
        else:
            problem = _link_value_problem(op, rest)
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
    problem = _node_name_problem(name)
    if problem:
        raise error(f"invalid node name {name!r}: {problem}")
    problem = _text_node_name_problem(name)
    if problem:
        raise error(f"invalid node name {name!r}: {problem}")
    return name, type_


def _text_node_name_problem(name: str) -> str | None:
    if name != name.strip():
        return "node names in the text form must not start or end with white space"
    if _COLON_END.search(name):
        return (
            "a ':' followed by white space or ending a node name is not allowed in the text form "
            "(write '/name : type' to give a type; is this a YAML file?)"
        )
    return None


# ---------------------------------------------------------------------------
# YAML form

_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_NULL_TAG = _TAG + "null"
_MERGE_TAG = _TAG + "merge"
_YAML_BUDGET = 1_000_000  # YAML nodes visited, counting each alias expansion


def parse_yaml(text: str | bytes, filename: str | None = None) -> Node:
    """Parse a tree in the YAML form (see the module docstring); return the root node."""
    text = _decode(text, filename)
    try:
        loader = yaml.SafeLoader(text)  # checks for unprintable characters already
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, filename) from None
    try:
        try:
            document = loader.get_single_node()
        except yaml.YAMLError as e:
            raise _yaml_error(e, text, filename) from None
        root = Node()
        if document is not None:
            _YamlWalker(loader, filename).top(document, root)
        return root
    finally:
        loader.dispose()


def _yaml_error(e: yaml.YAMLError, text: str, filename: str | None) -> TreeError:
    lineno = None
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        if mark is not None:
            lineno = mark.line + 1
        reason = ", ".join(part for part in (e.context, e.problem) if part) or str(e)
    elif isinstance(e, yaml.reader.ReaderError):
        lineno = text.count("\n", 0, e.position) + 1
        reason = f"{e.reason} {_char(chr(e.character)) if isinstance(e.character, int) else e.character!r}"
    else:
        reason = str(e)
    return TreeError(f"invalid YAML: {reason}", filename=filename, lineno=lineno)


class _YamlWalker:
    """Turns a composed YAML node graph into Nodes, checking as it goes."""

    def __init__(self, loader: yaml.SafeLoader, filename: str | None) -> None:
        self.loader = loader
        self.filename = filename
        self.budget = _YAML_BUDGET
        self.open_bodies: set[int] = set()  # node bodies being walked (alias loops)

    def error(self, node: yaml.Node, reason: str) -> TreeError:
        return TreeError(reason, filename=self.filename, lineno=node.start_mark.line + 1)

    def construct(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            raise self.error(node, f"invalid YAML: {e.problem or e}") from None
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
            raise self.error(node, f"invalid YAML value {node.value!r}: {e}") from None

    def key(self, node: yaml.Node) -> str:
        if node.tag == _MERGE_TAG:
            raise self.error(node, "YAML merge keys ('<<') are not supported")
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, "keys must be strings, not YAML sequences or mappings")
        key = self.construct(node)
        if not isinstance(key, str):
            raise self.error(node, f"key {node.value!r} is a {type(key).__name__}, not a string; quote it")
        return key

    def spend(self, node: yaml.Node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.error(node, "YAML aliases expand to too many values")

    def value(self, node: yaml.Node, active: set[int]) -> Any:
        self.spend(node)
        if isinstance(node, yaml.ScalarNode):
            value = self.construct(node)
            if value is None or isinstance(value, (bool, int, str)):
                return value
            if isinstance(value, float) and math.isfinite(value):
                return value
            raise self.error(
                node,
                f"{node.value!r} ({type(value).__name__}) cannot be represented in JSON"
                " (quote it to make it a string)",
            )
        if id(node) in active:
            raise self.error(node, "recursive YAML alias")
        active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
                return [self.value(item, active) for item in node.value]
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
                result: dict[str, Any] = {}
                lines: dict[str, int] = {}
                for key_node, value_node in node.value:
                    key = self.key(key_node)
                    if key in lines:
                        raise self.error(key_node, f"duplicate key {key!r} (first on line {lines[key]})")
                    lines[key] = key_node.start_mark.line + 1
                    result[key] = self.value(value_node, active)
                return result
            raise self.error(node, f"unsupported YAML tag {node.tag!r}")
        finally:
            active.discard(id(node))

    def top(self, document: yaml.Node, root: Node) -> None:
        if not (isinstance(document, yaml.MappingNode) and document.tag == _MAP_TAG):
            raise self.error(document, "the top level of a YAML tree must be a mapping of '/name:' keys")
        self.body(document, root, top=True)

    def body(self, mapping: yaml.MappingNode, node: Node, *, top: bool = False) -> None:
        lines: dict[str, int] = {}
        for key_node, value_node in mapping.value:
            self.spend(key_node)
            key = self.key(key_node)
            lineno = key_node.start_mark.line + 1
            if key.startswith("/"):
                what = f"node {key!r}"
            else:
                what = _describe(*_split_key(key))
            if key in lines:
                raise self.error(key_node, f"duplicate {what} (first defined on line {lines[key]})")
            lines[key] = lineno
            if key.startswith("/"):
                self.child(key_node, value_node, node, key[1:], top=top)
                continue
            if top:
                raise self.error(
                    key_node, f"{what} at the top level; the top level may only hold '/name:' nodes"
                )
            problem = _key_problem(key)
            if problem:
                raise self.error(key_node, problem)
            op, _ = _split_key(key)
            value = self.value(value_node, set())
            problem = _link_value_problem(op, value)
            if problem:
                raise self.error(value_node, f"{what}: {problem}")
            node.properties[key] = value

    def child(self, key_node: yaml.Node, value_node: yaml.Node, parent: Node, name: str, *, top: bool) -> None:
        problem = _node_name_problem(name)
        if problem:
            raise self.error(key_node, f"invalid node name {name!r}: {problem}")
        if top and name == RESERVED_TOP_LEVEL:
            raise self.error(
                key_node, f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper and cannot be a top-level node"
            )
        child = Node(name, lineno=key_node.start_mark.line + 1)
        parent.children[name] = child
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag == _NULL_TAG:
            return
        if isinstance(value_node, yaml.MappingNode) and value_node.tag == _MAP_TAG:
            if id(value_node) in self.open_bodies:
                raise self.error(value_node, "recursive YAML alias")
            self.open_bodies.add(id(value_node))
            try:
                self.body(value_node, child)
            finally:
                self.open_bodies.discard(id(value_node))
            return
        raise self.error(
            value_node,
            f"node '/{name}' must have a mapping of properties and child nodes (or nothing) as its value"
            " (for a node type write 'type: ...' under it)",
        )


# ---------------------------------------------------------------------------
# Writing


def iter_nodes(root: Node, base: str = "/") -> Iterator[tuple[str, Node]]:
    """Yield ``(absolute path, node)`` for every node below ``root``, pre-order.

    The root itself (which stands for ``base``) is not yielded; children come
    in their dict order (file order for parsed trees).  ``base`` is the path
    the tree is rooted at: ``iter_nodes(tree, '/app')`` yields ``/app/x``...
    """
    prefix = base.rstrip("/")
    pending = [(f"{prefix}/{name}", child) for name, child in reversed(root.children.items())]
    while pending:
        path, node = pending.pop()
        yield path, node
        pending.extend((f"{path}/{name}", child) for name, child in reversed(node.children.items()))


def _walk_sorted(root: Node) -> Iterator[tuple[int, str, str, Node]]:
    """Yield ``(depth, path, name, node)`` below ``root``, pre-order, sorted, checking names."""
    pending = [(0, "", root)]
    while pending:
        depth, path, node = pending.pop()
        names = sorted(node.children, reverse=True)
        for name in names:
            child = node.children[name]
            child_path = f"{path}/{name}"
            problem = _node_name_problem(name)
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


def _checked(path: str, key: object, value: Any) -> tuple[str, str, Any]:
    """Check a property for writing; return ``(op, base, value as JSON)``."""
    problem = _key_problem(key)
    if problem:
        raise ValueError(f"cannot write property {key!r} of node {path}: {problem}")
    assert isinstance(key, str)
    op, base = _split_key(key)
    problem = _link_value_problem(op, value)
    if problem:
        raise ValueError(f"cannot write {_describe(op, base)} of node {path}: {problem}")
    try:
        return op, base, _to_json(value)
    except ValueError as e:
        raise ValueError(f"cannot write property {key!r} of node {path}: {e}") from None


def _inline_type(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value)
        and value == value.strip()
        and not _CONTROL.search(value)
        and not _UNICODE_BREAKS.search(value)
    )


def _json_text(value: Any) -> str:
    """One-line JSON; U+0085, U+2028, U+2029 escaped so no tool sees a line break."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    return _UNICODE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@functools.lru_cache(maxsize=4096)
def _text_name_problem(base: str) -> str | None:
    if base.startswith(("/", "#")):
        return "it starts with '/' or '#'"
    if base != base.strip():
        return "it starts or ends with white space"
    if _CONTROL.search(base):
        return "it contains a control character"
    probe = f"{base} = 0"
    if _split_entry(probe) != (base, "=", "0"):
        return "it contains '=', '->' or '=>' between white space"
    return None


def _emit_text(root: Node) -> str:
    lines = []
    for depth, path, name, node in _walk_sorted(root):
        indent = "  " * depth
        problem = _text_node_name_problem(name)
        if problem:
            raise ValueError(f"cannot write node {path!r} in the text form: {problem}; use format='yaml'")
        properties = dict(node.properties)
        head = f"{indent}/{name}"
        if "type" in properties and _inline_type(properties["type"]):
            head += f" : {properties.pop('type')}"
        lines.append(head)
        for key in sorted(properties, key=_sort_key):
            op, base, value = _checked(path, key, properties[key])
            problem = _text_name_problem(base)
            if op == "=":
                rendered = _json_text(value)
            else:
                rendered = value
                if value != value.strip() or _CONTROL.search(value):
                    problem = problem or "its value starts or ends with white space or has control characters"
            if problem:
                raise ValueError(
                    f"cannot write {_describe(op, base)} of node {path} in the text form: {problem};"
                    " use format='yaml'"
                )
            lines.append(f"{indent}  {base} {op} {rendered}")
    return "".join(line + "\n" for line in lines)


def _sort_key(key: object) -> tuple[str, str]:
    # Keys are checked while writing; this only has to sort anything safely.
    return (type(key).__name__, str(key))


def _sorted_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_json(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(item) for item in value]
    return value


# PyYAML writes U+0085, U+2028 and U+2029 raw into single-quoted scalars, where
# a reader folds them into spaces; double quotes escape them.


class _YamlDumper(yaml.SafeDumper):
    """SafeDumper that keeps strings with Unicode line breaks lossless."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if _UNICODE_BREAKS.search(data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_YamlDumper.add_representer(str, _represent_str)


def _emit_yaml(root: Node) -> str:
    if not root.children:
        if root.properties:
            raise ValueError("cannot write properties of the root node; they have no place in a tree")
        return ""
    top: dict[str, Any] = {}
    bodies: dict[str, dict[str, Any]] = {"": top}
    for _depth, path, name, node in _walk_sorted(root):
        body: dict[str, Any] = {}
        for key in sorted(node.properties, key=_sort_key):
            _op, _base, value = _checked(path, key, node.properties[key])
            body[key] = _sorted_json(value)
        bodies[path.rsplit("/", 1)[0]]["/" + name] = body
        bodies[path] = body
    # Children were added after each parent's properties, in sorted order.
    text = yaml.dump(
        top,
        Dumper=_YamlDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        width=float("inf"),
    )
    if detect_format(text) != "yaml":  # pragma: no cover - defensive, keeps detection right
        text = "---\n" + text
    return text


def emit_tree(root: Node, *, format: str = "text") -> str:
    """Write the tree below ``root`` in the text or YAML form, deterministically.

    ``parse_tree(emit_tree(root, format=f)) == root`` for every tree this
    accepts; what a form cannot hold raises ``ValueError`` naming the node path
    and property (see the module docstring).
    """
    if format == "text":
        return _emit_text(root)
    if format == "yaml":
        return _emit_yaml(root)
    raise ValueError(f"unknown tree format {format!r}; expected one of {', '.join(FORMATS)}")
