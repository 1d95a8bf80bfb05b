"""Writing a tree in the YAML form: PyYAML's ``SafeDumper`` output, byte for byte.

The output is what PyYAML's safe dumper writes (block style, Unicode kept, no
line wrapping, keys in order, strings holding U+0085/U+2028/U+2029 double
quoted to work around a PyYAML quoting bug): :func:`emit_yaml_events` feeds
it the events of the tree, node by node, so that no depth of nodes recurses.

PyYAML's emitter is pure Python and analyses every scalar character by
character: 1.2 s for a 10,000-node tree whose text form takes 0.13 s.  Most of
a tree is scalars it writes plain, on one line -- names, numbers, booleans,
null, strings of safe characters that read back as strings -- so
:func:`emit_yaml` writes those lines itself.  Every other property (nested
values, strings PyYAML quotes) is dumped by PyYAML on its own and indented to
its place: PyYAML's block indentation is relative to the enclosing level, so
that gives the same bytes (the blank lines of a multi-line single-quoted
string stay unindented, as PyYAML leaves them).  A tree with a node name
PyYAML would not write plain goes to :func:`emit_yaml_events` as a whole.
Both are checked against each other on random trees (tests/tree).
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any, Iterator

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from .emit import checked_property, sort_key, walk_sorted
from .model import Node
from .rules import UNICODE_BREAKS

__all__ = ["emit_yaml", "emit_yaml_events"]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

#: Strings PyYAML's emitter writes plain in a block mapping (its analysis finds no
#: indicator, no leading or trailing space, no line break, nothing special): ASCII
#: words and single spaces; ``:`` only before a character other than a space; no
#: ``#``; not starting with ``-``, ``.``, ``?`` or another indicator.  Whether the
#: string then reads back as a string is the resolver's to say (``yes``, ``1:20``).
_PLAIN = re.compile(r"[A-Za-z0-9_/(]"
                    r"(?:[A-Za-z0-9_/().,+=@~$^;<>\[\]{}!?*&%'\"|\\-]|:(?=[^ ])| (?=[^ #]))*\Z")

#: Keys this long or longer are not "simple" to PyYAML (it writes ``? key``): it wants
#: fewer than 128 characters, counting the key's tag (``!!str``) though it writes none.
_SIMPLE_KEY = 128 - len("!!str")


class _YamlDumper(yaml.SafeDumper):
    """SafeDumper that keeps strings with Unicode line breaks lossless."""


# PyYAML writes U+0085, U+2028 and U+2029 raw into single-quoted scalars, where
# a reader folds them into spaces; double quotes escape them.
def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if UNICODE_BREAKS.search(data) else None
    return dumper.represent_scalar(_STR_TAG, data, style=style)


_YamlDumper.add_representer(str, _represent_str)

_DUMPER_OPTIONS: dict[str, Any] = dict(default_flow_style=False, allow_unicode=True, sort_keys=False,
                                       width=float("inf"))

_CACHED = (str, int, bool, type(None))


class _Events:
    """Feeds a dumper the events its serializer would make for our data, without recursing over nodes."""

    def __init__(self, dumper: _YamlDumper) -> None:
        self.dumper = dumper
        # the same keys and values recur across nodes: how each is written, by type and value
        self.seen: dict[tuple[type, Any], tuple[str, tuple[bool, bool], str, str | None]] = {}

    def scalar(self, data: Any) -> None:
        dumper = self.dumper
        key = (data.__class__, data)
        known = self.seen.get(key)
        if known is None:
            node = dumper.represent_data(data)
            if not isinstance(node, ScalarNode):  # only JSON scalars come here
                raise TypeError(f"not a scalar: {data!r}")
            detected = dumper.resolve(ScalarNode, node.value, (True, False))
            default = dumper.resolve(ScalarNode, node.value, (False, True))
            known = (node.tag, (node.tag == detected, node.tag == default), node.value, node.style)
            if len(self.seen) < 4096 and data.__class__ in _CACHED:  # (not floats: -0.0 == 0.0)
                self.seen[key] = known
        tag, implicit, value, style = known
        dumper.emit(ScalarEvent(None, tag, implicit, value, style=style))

    def start_mapping(self) -> None:
        self.dumper.emit(MappingStartEvent(None, _MAP_TAG, True, flow_style=False))

    def end_mapping(self) -> None:
        self.dumper.emit(MappingEndEvent())

    def value(self, value: Any) -> None:
        # (recursion is bounded: values are checked to nest at most MAX_VALUE_DEPTH levels)
        if isinstance(value, dict):
            self.start_mapping()
            for key in sorted(value):
                self.scalar(key)
                self.value(value[key])
            self.end_mapping()
        elif isinstance(value, list):
            self.dumper.emit(SequenceStartEvent(None, _SEQ_TAG, True, flow_style=False))
            for item in value:
                self.value(item)
            self.dumper.emit(SequenceEndEvent())
        else:
            self.scalar(value)


def _members(path: str, node: Node, checked: bool) -> list[tuple[str, Any]]:
    properties = node.properties
    return [(key, properties[key] if checked else checked_property(path, key, properties[key])[2])
            for key in sorted(properties, key=sort_key)]


@contextlib.contextmanager
def _document(stream: io.StringIO) -> Iterator[_Events]:
    """A YAML document of one top-level mapping written to ``stream``: its events go to
    what this yields (the document ends when the block does, unless it raised)."""
    dumper = _YamlDumper(stream, **_DUMPER_OPTIONS)
    try:
        dumper.open()
        dumper.emit(
            DocumentStartEvent(explicit=dumper.use_explicit_start, version=dumper.use_version, tags=dumper.use_tags)
        )
        events = _Events(dumper)
        events.start_mapping()
        yield events
        events.end_mapping()
        dumper.emit(DocumentEndEvent(explicit=dumper.use_explicit_end))
        dumper.close()
    finally:
        dumper.dispose()


def emit_yaml_events(root: Node, *, checked: bool = False) -> str:
    """The tree below ``root`` in the YAML form, every scalar through PyYAML's emitter;
    ValueError for what no form can hold.  (``checked``: as for :func:`emit_yaml`.)"""
    if not root.children:
        if root.properties:
            raise ValueError("cannot write properties of the root node; they have no place in a tree")
        return ""
    stream = io.StringIO()
    with _document(stream) as events:
        open_bodies = 0
        for depth, path, name, node in walk_sorted(root):
            while open_bodies > depth:
                events.end_mapping()
                open_bodies -= 1
            members = _members(path, node, checked)
            events.scalar("/" + name)
            events.start_mapping()
            open_bodies += 1
            for key, value in members:
                events.scalar(key)
                events.value(value)
        while open_bodies:
            events.end_mapping()
            open_bodies -= 1
    return stream.getvalue()


class _Lines:
    """How PyYAML writes each scalar of a tree, worked out once per distinct scalar."""

    def __init__(self) -> None:
        self.resolver = _YamlDumper(io.StringIO(), **_DUMPER_OPTIONS)  # (its resolver only)
        self.plain: dict[tuple[type, Any], str | None] = {}

    def text(self, data: Any) -> str | None:
        """``data`` as PyYAML writes it plain on one line in a block mapping, or None
        (it would quote it, tag it, or it is not a scalar)."""
        kind = data.__class__
        if kind is float:  # (not cached: -0.0 == 0.0)
            return self._resolved(_float_text(data), _FLOAT_TAG) if data == data else None
        key = (kind, data) if kind in _CACHED else None
        if key is None:
            return None
        if key in self.plain:
            return self.plain[key]
        if kind is str:
            text = self._resolved(data, _STR_TAG) if _PLAIN.match(data) else None
        elif kind is bool:
            text = "true" if data else "false"
        elif data is None:
            text = "null"
        else:
            text = self._resolved(str(data), _INT_TAG)
        if len(self.plain) < 65536:
            self.plain[key] = text
        return text

    def _resolved(self, text: str, tag: str) -> str | None:
        # PyYAML writes a scalar plain only if it reads back with its own tag
        return text if self.resolver.resolve(ScalarNode, text, (True, False)) == tag else None

    def close(self) -> None:
        self.resolver.dispose()


def _float_text(value: float) -> str:
    """PyYAML's text of a finite float (its represent_float)."""
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _dumped(key: str, value: Any, indent: str) -> str:
    """One property as PyYAML writes it, each line indented by ``indent`` (blank lines not)."""
    stream = io.StringIO()
    with _document(stream) as events:
        events.scalar(key)
        events.value(value)
    return "".join(indent + line if line != "\n" else line for line in stream.getvalue().splitlines(keepends=True))


def emit_yaml(root: Node, *, checked: bool = False) -> str:
    """The tree below ``root`` in the YAML form; ValueError for what no form can hold.

    ``checked``: every property passed :func:`~zkservices._tree.emit.checked_property`
    already (an export's nodes), so it is not checked again.  (Properties of the
    root are refused by ``walk_sorted``; an empty root gives ``""``.)
    """
    lines = _Lines()
    try:
        out: list[str] = []
        for depth, path, name, node in walk_sorted(root):
            indent = "  " * depth
            head = lines.text("/" + name)
            if head is None or len(name) + 1 >= _SIMPLE_KEY:
                return emit_yaml_events(root, checked=checked)  # a name PyYAML quotes: all of it by PyYAML
            members = _members(path, node, checked)
            if not members and not node.children:
                out.append(f"{indent}{head}: {{}}\n")
                continue
            out.append(f"{indent}{head}:\n")
            inner = indent + "  "
            for key, value in members:
                key_text = lines.text(key) if len(key) < _SIMPLE_KEY else None
                value_text = None if key_text is None else lines.text(value)
                if value_text is None:
                    out.append(_dumped(key, value, inner))
                else:
                    out.append(f"{inner}{key_text}: {value_text}\n")
        return "".join(out)
    finally:
        lines.close()
