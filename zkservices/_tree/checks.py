"""Checking a tree before it goes anywhere: names, values, sizes, property links.

:func:`prepare_tree` checks every node of a tree (also trees built in Python,
which no parser has seen) and encodes its data; :func:`check_links` follows
the property links of a prepared tree in a world described by two functions
(the tree alone for :func:`validate_tree`, the tree as it will be on the
server for ``import_tree``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Generator, Sequence, Union

from .._znode.encoding import MAX_DATA_SIZE, check_size
from .._znode.links import MAX_LINK_DEPTH, Query, ReadProperties, answer, following, linked_names, resolving, serve
from .._znode.paths import check_path
from ..errors import BadPropertyLink, LinkLoop, TreeError, ValueTooLarge
from .formats import parse_tree_encoded
from .model import Node
from .rules import (
    LINK_SUFFIX,
    PROPERTY_LINK_SUFFIX,
    RESERVED_TOP_LEVEL,
    key_problem,
    link_value_problem,
    node_name_problem,
    split_key,
    to_json,
)

__all__ = [
    "TreeInput",
    "Item",
    "TreeCheck",
    "as_tree",
    "as_tree_encoded",
    "prepare_tree",
    "check_links",
    "check_tree",
    "validate_tree",
    "tree_error",
]

log = logging.getLogger("zkservices.tree")

#: What the tree functions take: text or UTF-8 bytes in either form, or a parsed tree.
TreeInput = Union[str, bytes, Node]
#: A prepared node: ``(absolute path, node, encoded data)``.
Item = tuple[str, Node, bytes]

_PLAIN = (str, int, bool, type(None))  # values that need no further check
#: In a node's data, the JSON text of any property link's key ends so.
_LINK_MARK = (PROPERTY_LINK_SUFFIX + '"').encode("utf-8")


def tree_error(reason: str, node: Node | None, filename: str | None) -> TreeError:
    """A TreeError naming ``node``'s line (if it has one) in ``filename``."""
    return TreeError(reason, filename=filename, lineno=getattr(node, "lineno", None))


def as_tree(text: TreeInput, filename: str | None = None) -> Node:
    """``text`` parsed with :func:`parse_tree`, or ``text`` itself if it is a Node.

    :raises TreeError: naming the line, for a tree that does not parse.
    :raises TypeError: for anything that is not text, bytes or a Node.
    """
    return as_tree_encoded(text, filename, encoded=False)[0]


def as_tree_encoded(
    text: TreeInput, filename: str | None = None, *, encoded: bool = True
) -> tuple[Node, list[bytes | None] | None]:
    """:func:`as_tree`, and the node data the text parser worked out (see ``parse_tree_encoded``).

    :raises TreeError: naming the line, for a tree that does not parse.
    :raises TypeError: for anything that is not text, bytes or a Node.
    """
    if isinstance(text, Node):
        return text, None
    if isinstance(text, (str, bytes, bytearray, memoryview)):
        source = bytes(text) if not isinstance(text, str) else text
        return parse_tree_encoded(source, filename=filename, encoded=encoded)
    raise TypeError(f"a tree is text, bytes or a parsed Node, not {type(text).__name__}")


def prepare_tree(
    root: Node,
    base: str,
    filename: str | None = None,
    *,
    trusted: bool = False,
    encoded: list[bytes | None] | None = None,
) -> list[Item]:
    """Check every node of ``root`` (imported at ``base``); return its items, pre-order.

    :param root: the tree (its root node has no properties).
    :param base: the absolute path the tree's root stands for.
    :param filename: named in errors.
    :param trusted: ``root`` comes straight from :func:`parse_tree`, which
        checked names, keys and values already; only the size is left to check.
    :param encoded: the data of the nodes in pre-order as the parser worked
        it out (``parse_tree_encoded``; None entries are encoded here).
    :returns: ``(path, node, data)`` for every node below the root, ``data``
        the compact UTF-8 JSON that would be written.
    :raises TreeError: naming the node's line, for what the parser catches in
        files (for trees built in Python) and what only a server would refuse:
        data over the node size limit.
    :raises TypeError: ``root`` is not a Node.
    """
    if not isinstance(root, Node):
        raise TypeError(f"expected a tree Node, not {type(root).__name__}")
    if root.properties:
        raise tree_error("the root of a tree cannot have properties; give them to a node", root, filename)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    if trusted:
        return _prepare_trusted(root, base, filename, encoded, dumps)
    items: list[Item] = []
    key_problems: dict[str, str | None] = {}
    pending: list[tuple[str, Node, bool]] = [(base, root, True)]
    while pending:
        path, node, is_root = pending.pop()
        if not is_root:
            if not trusted:
                _check_properties(path, node, filename, key_problems)
            data = encoded[len(items)] if encoded is not None else None
            items.append((path, node, _sized_data(path, node, data, filename, dumps)))
        prefix = path if path != "/" else ""
        children = []
        for name, child in node.children.items():
            if not trusted:
                _check_child(path, name, child, node, filename)
            children.append((f"{prefix}/{name}", child, False))
        pending.extend(reversed(children))
    return items


def _prepare_trusted(
    root: Node, base: str, filename: str | None, encoded: list[bytes | None] | None, dumps: Callable[[Any], str]
) -> list[Item]:
    """:func:`prepare_tree` for a tree a parser checked: paths, data and the size check only."""
    items: list[Item] = []
    append = items.append
    datas = iter(encoded) if encoded is not None else None
    stack = [("" if base == "/" else base, iter(root.children.items()))]
    while stack:
        prefix, children = stack[-1]
        for name, node in children:
            path = f"{prefix}/{name}"
            data = next(datas, None) if datas is not None else None
            append((path, node, _sized_data(path, node, data, filename, dumps)))
            if node.children:
                stack.append((path, iter(node.children.items())))
                break
        else:
            stack.pop()
    return items


def _sized_data(path: str, node: Node, data: bytes | None, filename: str | None,
                dumps: Callable[[Any], str]) -> bytes:
    """``node``'s data (``data``, or its properties encoded with ``dumps``), refused
    with a TreeError naming the node's line when over the node size limit."""
    if data is None:
        data = dumps(node.properties).encode("utf-8")
    if len(data) > MAX_DATA_SIZE:
        try:
            check_size(path, data)
        except ValueTooLarge as exc:
            raise tree_error(str(exc), node, filename) from None
    return data


def _check_properties(path: str, node: Node, filename: str | None, key_problems: dict[str, str | None]) -> None:
    """Check every key and value of ``node`` (``key_problems`` caches key checks)."""
    for key, value in node.properties.items():
        if isinstance(key, str):
            if key in key_problems:
                problem = key_problems[key]
            else:
                problem = key_problems[key] = key_problem(key)
        else:
            problem = key_problem(key)
        if problem is None and key.endswith((LINK_SUFFIX, PROPERTY_LINK_SUFFIX)):
            op, _base = split_key(key)
            problem = link_value_problem(op, value)
        if problem is None and value.__class__ not in _PLAIN:
            try:
                to_json(value)
            except ValueError as exc:
                problem = f"property {key!r}: {exc}"
        if problem:
            raise tree_error(f"node {path}: {problem}", node, filename)


def _check_child(path: str, name: Any, child: Any, parent: Node, filename: str | None) -> None:
    child_path = f"{path.rstrip('/')}/{name}" if isinstance(name, str) else f"{path}/{name!r}"
    problem = node_name_problem(name)
    if problem is None and not isinstance(child, Node):
        problem = f"expected a Node, not {type(child).__name__}"
    if problem is None and child.name != name:
        problem = f"the node is named {child.name!r}"
    if problem is None and path == "/" and name == RESERVED_TOP_LEVEL:
        problem = f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper"
    if problem:
        node = child if isinstance(child, Node) else parent
        raise tree_error(f"invalid node {child_path}: {problem}", node, filename)


class _TooLong(Exception):
    """A chain of property links is longer than ``MAX_LINK_DEPTH``."""


class Unknown(Exception):
    """A property-link check needed a node outside the world it was given."""


def check_links(
    items: Sequence[Item],
    read: Callable[[str], dict | None],
    exists: Callable[[str], bool],
    filename: str | None,
) -> list[str]:
    """Follow every property link of ``items`` in the world ``read``/``exists`` describe.

    ``read(path)`` gives a node's properties (None: no such node),
    ``exists(path)`` whether it exists; either may raise :class:`Unknown`.
    (:func:`checking_links` over plain functions.)

    :returns: the links that could not be checked (the world raised Unknown),
        as ``"/path 'name =>'"``.
    :raises TreeError: naming the node's line, for a bad or looping link.
    """
    return answer(checking_links(items, filename), read, exists)


def checking_links(items: Sequence[Item], filename: str | None) -> Generator[Query, Any, list[str]]:
    """Follow every property link of ``items``, asking for the nodes outside them
    (:class:`~zkservices._znode.links.ReadProperties`, ``NodeExists``).  A chain of
    more than ``MAX_LINK_DEPTH`` (64) property links is refused, like a chain of
    symbolic links.  Returns and raises as :func:`check_links`."""
    unchecked = []
    hops = 0

    def ask(query: Any) -> Generator[Query, Any, Any]:
        nonlocal hops
        if query.__class__ is ReadProperties:  # a hop of a property link
            hops += 1
            if hops > MAX_LINK_DEPTH:
                raise _TooLong()
            return (yield query)
        return (yield from resolving(query.path))  # (its reads are no hops)

    for path, node, data in items:
        if _LINK_MARK not in data:  # (its data names no property link: quick to tell)
            continue
        properties = node.properties
        for name in linked_names(properties):  # (a property of that name wins over the link)
            hops = 0
            try:
                yield from serve(following(path, node.properties, name), ask)
            except _TooLong:
                raise tree_error(
                    f"{path} '{name}{PROPERTY_LINK_SUFFIX}': more than {MAX_LINK_DEPTH} property links in a row",
                    node,
                    filename,
                ) from None
            except Unknown:
                unchecked.append(f"{path} '{name}{PROPERTY_LINK_SUFFIX}'")
            except (BadPropertyLink, LinkLoop) as exc:
                # (their messages start with the node path and the link)
                raise tree_error(str(exc), node, filename) from None
    return unchecked


def _links_within(items: Sequence[Item], filename: str | None) -> list[str]:
    """Check property links among the tree's own nodes; return those that leave the tree."""
    tree = {path: node.properties for path, node, _ in items}

    def exists(path: str) -> bool:
        if path == "/" or path in tree:
            return True
        raise Unknown(path)

    def read(path: str) -> dict | None:
        if path in tree:
            return tree[path]
        raise Unknown(path)

    return check_links(items, read, exists, filename)


@dataclass(frozen=True)
class TreeCheck:
    """What :func:`check_tree` found: the tree, its prepared nodes, the links it could not check.

    ``root`` is the parsed tree, ``items`` its ``(path, node, data)`` triples
    (pre-order) and ``unchecked_links`` the property links that lead out of
    the tree (``"/path 'name =>'"``; empty when links were not checked).
    """

    root: Node
    items: list[Item]
    unchecked_links: list[str]

    def __repr__(self) -> str:
        return f"TreeCheck({len(self.items)} node(s), {len(self.unchecked_links)} unchecked link(s))"


def check_tree(
    text: TreeInput, *, path: str = "/", filename: str | None = None, links: bool = True
) -> TreeCheck:
    """Check a tree as ``import_tree(text, path)`` would, without a server.

    :param text: the tree (text, bytes or a parsed Node).
    :param path: where it would be imported.
    :param filename: named in errors.
    :param links: also check the property links among the tree's own nodes.
    :raises TreeError: naming the line, for syntax errors, invalid names and
        values, data over the node size limit and bad property links.
    :raises TypeError: ``text`` is not text, bytes or a Node.
    """
    root = as_tree(text, filename)
    items = prepare_tree(root, check_path(path), filename)
    unchecked = _links_within(items, filename) if links else []
    return TreeCheck(root, items, unchecked)


def validate_tree(text: TreeInput, *, path: str = "/", filename: str | None = None) -> Node:
    """Check a tree as ``import_tree(text, path)`` would, without a server; return it parsed.

    :param text: the tree (text, bytes or a parsed Node).
    :param path: where it would be imported.
    :param filename: named in errors.
    :returns: the tree's root node.
    :raises TreeError: (a ``ValueError`` naming the line) for syntax errors,
        invalid node names, data over the node size limit and property links
        that are bad among the tree's own nodes.  Property links that lead
        out of the tree can only be checked by ``import_tree``, against the
        server; they are logged (INFO, ``zkservices.tree``) as not checked.
    :raises TypeError: ``text`` is not text, bytes or a Node.
    """
    checked = check_tree(text, path=path, filename=filename)
    for link in checked.unchecked_links:
        log.info("%s: property link %s leads out of the tree; import_tree checks it", filename or "<string>", link)
    return checked.root
