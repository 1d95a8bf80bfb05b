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

import math
import re
import sys
from typing import Any, Callable

from ..errors import TreeError
from .model import Node
from .rules import (
    CONTROL,
    RESERVED_TOP_LEVEL,
    char_name,
    decode_source,
    describe,
    key_problem,
    link_value_problem,
    node_name_problem,
    split_key,
)
from .values import fragment, parse_value

__all__ = ["parse_text", "parse_text_encoded", "line_pattern", "parse_value", "split_entry", "text_node_name_problem", "COLON_END"]

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


# The fast path: one pattern splits the lines of the common shapes into their parts, a
# chunk of lines at a time (C speed); the loop below handles those and hands every other
# line to the general rules (_Parser.line), which decide exactly as they always did.
# Each shape is one the general rules read the same way: a node name or property name
# of printable ASCII without blanks (so the first operator or type separator is the
# one right after it), values that are plain integers, floats, strings without
# escapes, true/false/null (JSON literals whose value json.loads would give), or
# any other value (parsed by parse_value, as always).
_NAME = r"[!-.0-~]+"  # printable ASCII but ' ' and '/' (one ending in ':' takes the long way)
_KEY = r"[!$-.0-\[\]-~][!#-\[\]-~]*"  # printable ASCII but ' ', '"' and '\', not starting with '#' or '/'
_REST = r"\S[^\x00-\x08\x0a-\x1f]*"  # the rest of a line: no control character but tab
_INT = r"0|-?[1-9][0-9]{0,17}"  # (the JSON text of its value, too)
_FLOAT = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
_STRING = r'"[^"\\\x00-\x1f]*"'  # no escapes: its JSON text is itself


def line_pattern(possessive: bool) -> re.Pattern[str]:
    """The pattern of the fast path; ``possessive`` (Python 3.11+) backtracks less, matching the same."""
    more = "+" if possessive else ""  # (every run it applies to is followed by what it cannot hold)
    name, key, rest = _NAME + more, _KEY + more, _REST + more
    return re.compile(
        rf"^( *{more})(?:/({name})(?: +: +({rest}))?|({key}) = (?:({_INT}|{_FLOAT}|{_STRING}|true|false|null)|({rest})))"
        r" *$|^(.*)$",
        re.MULTILINE,
    )


_LINE = line_pattern(sys.version_info >= (3, 11))
_CHUNK = 1 << 13  # characters of text matched at once (a bounded list of lines at a time)
_CONSTANTS = {"true": True, "false": False, "null": None}
_DOTS = frozenset((".", ".."))
def _line_at(text: str, lineno: int) -> str:
    start = 0
    for _ in range(lineno - 1):
        start = text.index("\n", start) + 1
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


# A node whose body is still open while parsing: a list, quick to make and to read --
# [indent of its line, the Node, indent of its body (None until a line is there),
#  property key -> line it was set on (the latest line last), its data's JSON members
#  so far (None: not tracked), where its data goes in the list of encoded data].
_INDENT, _NODE, _CHILD, _LINES, _PARTS, _INDEX = range(6)
Frame = list


def _frame(indent: int, node: Node) -> Frame:
    return [indent, node, None, {}, None, -1]


class _Parser:
    """The parse's state, and the general rules, line by line."""

    def __init__(self, text: str, filename: str | None, datas: list[bytes | None] | None) -> None:
        self.text = text
        self.filename = filename
        self.datas = datas
        self.root = Node()
        self.stack: list[Frame] = [_frame(-1, self.root)]

    def error(self, reason: str, lineno: int) -> TreeError:
        return TreeError(reason, filename=self.filename, lineno=lineno)

    def open(self, frame: Frame, type_: str | None) -> None:
        """Start tracking the data of ``frame``'s new node (whose only property may be its type)."""
        datas = self.datas
        assert datas is not None
        frame[_INDEX] = len(datas)
        datas.append(None)
        if type_ is None:
            frame[_PARTS] = []
        elif '"' in type_ or "\\" in type_ or "\t" in type_:
            part = fragment("type", type_)
            frame[_PARTS] = None if part is None else [part]
        else:
            frame[_PARTS] = ['"type":"' + type_ + '"']

    def close(self, frame: Frame) -> None:
        """The body of ``frame`` is complete: its data, if every member was tracked."""
        parts = frame[_PARTS]
        if parts is not None and self.datas is not None:
            try:
                self.datas[frame[_INDEX]] = ("{" + ",".join(parts) + "}").encode("utf-8")
            except UnicodeEncodeError:  # (lone surrogates: prepare_tree says so)
                pass

    def finish(self) -> Node:
        stack = self.stack
        while len(stack) > 1:
            self.close(stack.pop())
        return self.root

    def line(self, lineno: int, line: str | None) -> None:
        """Apply line ``lineno`` (read from the text if ``line`` is None) by the general rules."""
        if line is None:
            line = _line_at(self.text, lineno)
        if line.endswith("\r"):
            line = line[:-1]
        control = CONTROL.search(line)
        if control:
            raise self.error(f"control character {char_name(control.group())} in the line (binary data?)", lineno)
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            return
        indent = len(line) - len(stripped)
        stripped = stripped.rstrip()
        if indent and line.count(" ", 0, indent) != indent:
            for char in line[:indent]:
                if char == "\t":
                    raise self.error("tab in the indentation; indent with spaces only", lineno)
                if char != " ":
                    raise self.error(f"{char_name(char)} in the indentation; indent with spaces only", lineno)

        stack = self.stack
        while stack[-1][_INDENT] >= indent:
            self.close(stack.pop())
        frame = stack[-1]
        lines = frame[_LINES]
        if frame[_CHILD] is None:
            frame[_CHILD] = indent
        elif indent > frame[_CHILD]:
            latest = max(lines, key=lines.__getitem__)  # (a property: a node would hold the line)
            last = f"{describe(*split_key(latest))} on line {lines[latest]}"
            raise self.error(f"indented under the {last}; only nodes can have indented lines under them", lineno)
        elif indent < frame[_CHILD]:
            raise self.error("dedent to an indentation level that was never used", lineno)

        root = self.root
        if stripped.startswith("/"):
            name, type_ = _parse_node_line(stripped, lambda reason: self.error(reason, lineno))
            parent = frame[_NODE]
            if parent is root and name == RESERVED_TOP_LEVEL:
                raise self.error(
                    f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper and cannot be a top-level node", lineno
                )
            if name in parent.children:
                first = parent.children[name].lineno
                raise self.error(f"duplicate node '/{name}' (first defined on line {first})", lineno)
            node = Node(name, lineno=lineno)
            parent.children[name] = node
            child = _frame(indent, node)
            if type_ is not None:
                node.properties["type"] = type_
                child[_LINES]["type"] = lineno
            if self.datas is not None:
                self.open(child, type_)
            stack.append(child)
            return

        parts = split_entry(stripped)
        if parts is None:
            hint = ""
            if COLON_END.search(stripped):
                hint = " (a YAML line? YAML trees must start with a '/name:' key)"
            raise self.error(
                "unrecognized line, expected '/name [: type]', 'name = value', "
                f"'name -> target' or 'name => path [name]': {stripped!r}{hint}",
                lineno,
            )
        name, op, rest = parts
        what = describe(op, name)
        if frame[_NODE] is root:
            where = "above the first node" if not root.children else "at the top level"
            raise self.error(f"{what} {where}; properties and links must be indented under a node", lineno)
        key = name if op == "=" else f"{name} {op}"
        problem = key_problem(key)
        if problem:
            raise self.error(problem, lineno)
        if op == "=":
            if not rest:
                raise self.error(f"{what} has no value", lineno)
            try:
                value = parse_value(rest)
            except ValueError as e:
                raise self.error(f"{what}: {e}", lineno) from None
        else:
            problem = link_value_problem(op, rest)
            if problem:
                raise self.error(f"{what}: {problem}", lineno)
            value = rest
        if key in lines:
            raise self.error(f"duplicate {what} (first defined on line {lines[key]})", lineno)
        frame[_NODE].properties[key] = value
        lines[key] = lineno
        if frame[_PARTS] is not None:
            part = fragment(key, value)
            if part is None:
                frame[_PARTS] = None
            else:
                frame[_PARTS].append(part)


def parse_text(text: str | bytes, filename: str | None = None) -> Node:
    """Parse a tree in the text form; return the root node (name ``""``).

    :param text: the tree, as text or UTF-8 bytes.
    :param filename: named in errors.
    :raises TreeError: naming the line, for anything the grammar refuses.
    :raises TypeError: ``text`` is neither str nor bytes.
    """
    return _parse(text, filename, None)


def parse_text_encoded(text: str | bytes, filename: str | None = None) -> tuple[Node, list[bytes | None]]:
    """Parse like :func:`parse_text`; also return each node's data as an import writes it.

    :returns: the root, and for every node below it in pre-order (file
        order) its properties as compact UTF-8 JSON -- built from the
        values' own text where that is their JSON text -- or None where
        that was not worked out here.
    :raises TreeError: as :func:`parse_text`.
    """
    datas: list[bytes | None] = []
    return _parse(text, filename, datas), datas


def _parse(text: str | bytes, filename: str | None, datas: list[bytes | None] | None) -> Node:
    text = decode_source(text, filename)
    parser = _Parser(text, filename, datas)
    root, stack, general = parser.root, parser.stack, parser.line
    encoding = datas is not None
    open_ = parser.open
    findall = _LINE.findall
    new = object.__new__
    # The open frame and what of it every line uses, kept in locals (frames are
    # lists: [indent, node, child indent, lines, parts, index]); ``child_indent`` is
    # -1 while its body has no line yet and -2 for the root (whose lines all take
    # the long way).
    frame = stack[-1]
    child_indent = -2
    properties: dict[str, Any] = {}
    lines: dict[str, int] = {}
    parts: list[str] | None = None
    lineno = 0
    pos = 0
    size = len(text)
    while pos <= size:
        end = text.find("\n", pos + _CHUNK)  # (a chunk ends at a line break)
        if end < 0:
            end = size
        for spaces, name, type_, key, plain, rest, other in findall(text, pos, end):
            lineno += 1
            if not (name or key):
                if other:
                    general(lineno, other)
                    frame = stack[-1]
                    child_indent = -2 if frame[1] is root else -1 if frame[2] is None else frame[2]
                    properties, lines, parts = frame[1].properties, frame[3], frame[4]
                continue
            indent = len(spaces)
            if indent != child_indent:  # another body than the last line's (or an error)
                while frame[0] >= indent:
                    stack.pop()
                    if encoding and frame[4] is not None:
                        try:  # (close(frame), inline)
                            datas[frame[5]] = ("{" + ",".join(frame[4]) + "}").encode("utf-8")  # type: ignore[index]
                        except UnicodeEncodeError:
                            pass
                    frame = stack[-1]
                if frame[2] is None:
                    frame[2] = indent
                if frame[2] != indent or (key and frame[1] is root):
                    general(lineno, None)  # (an error)
                    continue
                child_indent = -2 if frame[1] is root else indent
                properties, lines, parts = frame[1].properties, frame[3], frame[4]
            if name:  # /name [: type]
                children = frame[1].children
                if name in children or name in _DOTS or name[-1] == ":" or (
                    frame[1] is root and name == RESERVED_TOP_LEVEL
                ):
                    general(lineno, None)  # (an error)
                    continue
                node = new(Node)  # (Node(name, lineno=lineno), made quicker)
                node.name = name
                node.properties = properties = {}
                node.children = {}
                node.lineno = lineno
                children[name] = node
                frame = [indent, node, None, {}, None, -1]
                lines = frame[3]
                if type_:
                    type_ = type_.rstrip()
                    properties["type"] = type_
                    lines["type"] = lineno
                    if encoding:
                        open_(frame, type_)
                elif encoding:
                    frame[5] = len(datas)  # type: ignore[arg-type]
                    datas.append(None)  # type: ignore[union-attr]
                    frame[4] = []
                parts = frame[4]
                child_indent = -1
                stack.append(frame)
                continue
            # name = value
            if key in properties:
                general(lineno, None)  # (an error)
                continue
            if plain:
                first = plain[0]
                if first == '"':
                    value: Any = plain[1:-1]
                elif first in "tfn":
                    value = _CONSTANTS[plain]
                else:
                    try:
                        value = int(plain)
                    except ValueError:  # (a float: its JSON text may differ)
                        value = float(plain)
                        if not math.isfinite(value):
                            general(lineno, None)  # (an error: not JSON)
                            continue
                        plain = ""
            else:
                try:
                    value = parse_value(rest.rstrip())
                except ValueError:
                    general(lineno, None)  # (an error)
                    continue
            properties[key] = value
            lines[key] = lineno
            if parts is not None:
                if plain:
                    parts.append(f'"{key}":{plain}')
                else:
                    part = fragment(key, value)
                    if part is None:
                        frame[4] = parts = None
                    else:
                        parts.append(part)
        pos = end + 1
    return parser.finish()


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
