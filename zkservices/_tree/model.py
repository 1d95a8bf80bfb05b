"""The tree model: :class:`Node`, walking a tree, and JSON equality of property values.

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

Nothing here recurses: trees of any depth (a file nested 10,000 levels deep)
compare and walk with the stack size they started with.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Node", "iter_nodes", "same_json"]


class Node:
    """One node of a parsed tree.

    ``name`` is the node's name (``""`` for the root), ``children`` maps child
    names (without a slash) to nodes in insertion order, ``properties`` holds
    JSON values (``'type'``, ``'name ->'`` links and ``'name =>'`` property
    links included) and ``lineno`` is the line the node was defined on, when
    it came from a file.

    Equality is structural and ignores ``lineno`` and order; property values
    are compared as JSON, so ``True``, ``1`` and ``1.0`` differ.  Nodes are
    mutable and so not hashable.
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
        """Make a node.

        :param name: the node's name, ``""`` for a root.
        :param properties: its properties (kept as given, not copied).
        :param children: its children by name (kept as given, not copied).
        :param lineno: the line of the file it was defined on, if any.
        """
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
                or not same_json(a.properties, b.properties)
            ):
                return False
            pending.extend((child, b.children[name]) for name, child in a.children.items())
        return True


def iter_nodes(root: Node, base: str = "/") -> Iterator[tuple[str, Node]]:
    """Yield ``(absolute path, node)`` for every node below ``root``, pre-order.

    The root itself (which stands for ``base``) is not yielded; children come
    in their dict order (file order for parsed trees).  ``base`` is the path
    the tree is rooted at: ``iter_nodes(tree, '/app')`` yields ``/app/x``...
    Works on trees of any depth.
    """
    prefix = base.rstrip("/")
    pending = [(f"{prefix}/{name}", child) for name, child in reversed(root.children.items())]
    while pending:
        path, node = pending.pop()
        yield path, node
        pending.extend((f"{path}/{name}", child) for name, child in reversed(node.children.items()))


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


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: like ``==`` but ``True``, ``1``, ``1.0`` and ``-0.0``/``0.0`` differ.

    Tuples equal lists with the same items.  Iterative: any nesting depth.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        kind = _json_kind(x)
        if kind != _json_kind(y):
            return False
        if kind == "dict":
            if x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif kind == "list":
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif kind == "float":
            if not (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)):
                return False
        elif not bool(x == y):
            return False
    return True
