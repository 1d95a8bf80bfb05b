"""The YAML form of a tree: read with PyYAML's safe loader, walked node by node.

::

    /fooservice:
      type: z4m cms
      threads: 3
      db ->: /databases/main
      threads_copy =>: ../cms threads
      /providers: {}

Read with PyYAML's ``SafeLoader`` only (composed without recursion, then
walked node by node so that errors name lines; trees may nest to any depth).
Keys starting with ``/`` are child nodes (value: a mapping, or
nothing/``null``); keys ending in `` ->`` are symbolic links and keys ending
in `` =>`` property links (string values); every other key is a property with
any JSON value (``type`` is just a property).  The top level must be a
mapping of ``/name`` keys only.  Duplicate keys (anywhere, also in nested
values) are errors, as are non-string keys, merge keys (``<<``), tags other
than the standard JSON-like ones, values that are not JSON (timestamps,
binary, NaN, ...), values nesting lists and mappings more than 100 levels
deep, recursive aliases and aliases that expand to more than
:data:`YAML_BUDGET` values.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, SequenceNode

from ..errors import TreeError
from .model import Node
from .rules import (
    MAX_VALUE_DEPTH,
    RESERVED_TOP_LEVEL,
    char_name,
    decode_source,
    describe,
    key_problem,
    link_value_problem,
    node_name_problem,
    split_key,
)

__all__ = ["parse_yaml", "YAML_BUDGET"]

_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_NULL_TAG = _TAG + "null"
_MERGE_TAG = _TAG + "merge"
#: YAML nodes visited at most, counting each alias expansion.
YAML_BUDGET = 1_000_000

_NO_KEY = object()


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer keeps its own stack instead of recursing (any depth of nodes).

    SafeLoader has no path resolvers, so the composer's descend/ascend
    resolver steps are left out.  Values (collections below a property key,
    or in a sequence) nesting more than ``MAX_VALUE_DEPTH`` levels are
    refused while composing, before PyYAML's scanner spends quadratic time
    on them.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        stack: list[list[Any]] = []  # [collection node, pending mapping key, value level]
        node = None
        while True:
            if node is None:
                node = self._open(stack)
            while node is not None or (stack and self.check_event(SequenceEndEvent, MappingEndEvent)):
                if node is None:
                    end = self.get_event()
                    node = stack.pop()[0]
                    node.end_mark = end.end_mark
                if not stack:
                    return node
                frame = stack[-1]
                if isinstance(frame[0], SequenceNode):
                    frame[0].value.append(node)
                elif frame[1] is _NO_KEY:
                    frame[1] = node
                else:
                    frame[0].value.append((frame[1], node))
                    frame[1] = _NO_KEY
                node = None

    def _open(self, stack: list[list[Any]]) -> Any:
        """Compose a scalar or an alias (returned), or start a collection (pushed; None returned)."""
        if self.check_event(AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
            return self.anchors[event.anchor]
        event = self.peek_event()
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence",
                self.anchors[anchor].start_mark,
                "second occurrence",
                event.start_mark,
            )
        if self.check_event(ScalarEvent):
            return self.compose_scalar_node(anchor)
        start = self.get_event()
        level = _value_level(stack)
        if level > MAX_VALUE_DEPTH:
            raise ComposerError(
                None, None, f"lists and mappings nest more than {MAX_VALUE_DEPTH} levels deep in a value", start.start_mark
            )
        tag = start.tag
        kind = SequenceNode if isinstance(start, SequenceStartEvent) else MappingNode
        if tag is None or tag == "!":
            tag = self.resolve(kind, None, start.implicit)
        node = kind(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        stack.append([node, _NO_KEY, level])
        return None


def _value_level(stack: list[list[Any]]) -> int:
    """The value nesting level of a collection opened now (0: the document or a node body)."""
    if not stack:
        return 0
    parent, key, level = stack[-1]
    if (
        level == 0
        and isinstance(parent, MappingNode)
        and isinstance(key, yaml.ScalarNode)
        and str(key.value).startswith("/")
    ):
        return 0
    return level + 1


def parse_yaml(text: str | bytes, filename: str | None = None) -> Node:
    """Parse a tree in the YAML form; return the root node (name ``""``).

    :param text: the tree, as text or UTF-8 bytes.
    :param filename: named in errors.
    :raises TreeError: naming the line, for invalid YAML and anything the form refuses.
    :raises TypeError: ``text`` is neither str nor bytes.
    """
    text = decode_source(text, filename)
    try:
        loader = _Loader(text)  # checks for unprintable characters already
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
        reason = f"{e.reason} {char_name(chr(e.character)) if isinstance(e.character, int) else e.character!r}"
    else:
        reason = str(e)
    return TreeError(f"invalid YAML: {reason}", filename=filename, lineno=lineno)


class _Body:
    """A node body (a YAML mapping) being walked."""

    __slots__ = ("items", "node", "top", "lines", "mapping")

    def __init__(self, mapping: yaml.MappingNode, node: Node, *, top: bool = False) -> None:
        self.items: Iterator[tuple[yaml.Node, yaml.Node]] = iter(mapping.value)
        self.node = node
        self.top = top
        self.lines: dict[str, int] = {}
        self.mapping = mapping


class _YamlWalker:
    """Turns a composed YAML node graph into Nodes, checking as it goes (no recursion over nodes)."""

    def __init__(self, loader: yaml.SafeLoader, filename: str | None) -> None:
        self.loader = loader
        self.filename = filename
        self.budget = YAML_BUDGET
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

    def value(self, node: yaml.Node, active: set[int], level: int = 1) -> Any:
        """A property value; ``level`` is the nesting level a collection here would have."""
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
        if level > MAX_VALUE_DEPTH:
            raise self.error(node, f"lists and mappings nest more than {MAX_VALUE_DEPTH} levels deep in a value")
        active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
                return [self.value(item, active, level + 1) for item in node.value]
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
                result: dict[str, Any] = {}
                lines: dict[str, int] = {}
                for key_node, value_node in node.value:
                    key = self.key(key_node)
                    if key in lines:
                        raise self.error(key_node, f"duplicate key {key!r} (first on line {lines[key]})")
                    lines[key] = key_node.start_mark.line + 1
                    result[key] = self.value(value_node, active, level + 1)
                return result
            raise self.error(node, f"unsupported YAML tag {node.tag!r}")
        finally:
            active.discard(id(node))

    def top(self, document: yaml.Node, root: Node) -> None:
        """Walk the document (the top-level mapping) into ``root``, depth first, in file order."""
        if not (isinstance(document, yaml.MappingNode) and document.tag == _MAP_TAG):
            raise self.error(document, "the top level of a YAML tree must be a mapping of '/name:' keys")
        stack = [_Body(document, root, top=True)]
        while stack:
            body = stack[-1]
            item = next(body.items, None)
            if item is None:
                stack.pop()
                if not body.top:
                    self.open_bodies.discard(id(body.mapping))
                continue
            opened = self.entry(body, *item)
            if opened is not None:
                stack.append(opened)

    def entry(self, body: _Body, key_node: yaml.Node, value_node: yaml.Node) -> _Body | None:
        """One key of a node body; returns the child's body to walk next, if it has one."""
        self.spend(key_node)
        key = self.key(key_node)
        lineno = key_node.start_mark.line + 1
        what = f"node {key!r}" if key.startswith("/") else describe(*split_key(key))
        if key in body.lines:
            raise self.error(key_node, f"duplicate {what} (first defined on line {body.lines[key]})")
        body.lines[key] = lineno
        if key.startswith("/"):
            return self.child(key_node, value_node, body.node, key[1:], top=body.top)
        if body.top:
            raise self.error(key_node, f"{what} at the top level; the top level may only hold '/name:' nodes")
        problem = key_problem(key)
        if problem:
            raise self.error(key_node, problem)
        op, _ = split_key(key)
        value = self.value(value_node, set())
        problem = link_value_problem(op, value)
        if problem:
            raise self.error(value_node, f"{what}: {problem}")
        body.node.properties[key] = value
        return None

    def child(self, key_node: yaml.Node, value_node: yaml.Node, parent: Node, name: str, *, top: bool) -> _Body | None:
        problem = node_name_problem(name)
        if problem:
            raise self.error(key_node, f"invalid node name {name!r}: {problem}")
        if top and name == RESERVED_TOP_LEVEL:
            raise self.error(
                key_node, f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper and cannot be a top-level node"
            )
        child = Node(name, lineno=key_node.start_mark.line + 1)
        parent.children[name] = child
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag == _NULL_TAG:
            return None
        if isinstance(value_node, yaml.MappingNode) and value_node.tag == _MAP_TAG:
            if id(value_node) in self.open_bodies:
                raise self.error(value_node, "recursive YAML alias")
            self.open_bodies.add(id(value_node))
            return _Body(value_node, child)
        raise self.error(
            value_node,
            f"node '/{name}' must have a mapping of properties and child nodes (or nothing) as its value"
            " (for a node type write 'type: ...' under it)",
        )
