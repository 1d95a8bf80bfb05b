"""The tree model (zkservices._tree.model): Node equality and repr, iter_nodes."""

from __future__ import annotations

import pytest

from zkservices._tree import Node, emit_tree, iter_nodes, parse_text

from ._helpers import node

# ---------------------------------------------------------------------------
# Node and iter_nodes


def test_node_equality_is_structural_and_json_strict():
    assert Node("a", {"x": 1}) == Node("a", {"x": 1}, lineno=5)
    assert Node("a", {"x": 1}) != Node("b", {"x": 1})
    assert Node("a", {"x": 1}) != Node("a", {"x": True})
    assert Node("a", {"x": 1}) != Node("a", {"x": 1.0})
    assert Node("a", {"x": 0.0}) != Node("a", {"x": -0.0})
    assert Node("a", {"x": [1]}) == Node("a", {"x": (1,)})
    assert node("a", b=node("b", {"k": 1})) != node("a", b=node("b", {"k": 2}))
    assert node("a", b=node("b")) != node("a", c=node("c"))
    assert Node("a") != "a"
    with pytest.raises(TypeError):
        hash(Node("a"))


def test_node_repr():
    root = parse_text("/a : t\n  /b\n  /c\n")
    assert repr(root) == "Node('', children=['a'])"
    assert repr(root.children["a"]) == "Node('a', properties={'type': 't'}, children=['b', 'c'], lineno=1)"


def test_iter_nodes_pre_order_in_file_order():
    root = parse_text("/z\n  /b\n    /c\n  /a\n/y\n")
    assert [path for path, _ in iter_nodes(root)] == ["/z", "/z/b", "/z/b/c", "/z/a", "/y"]
    assert [n.name for _, n in iter_nodes(root)] == ["z", "b", "c", "a", "y"]
    assert [path for path, _ in iter_nodes(root, "/app/")] == [
        "/app/z",
        "/app/z/b",
        "/app/z/b/c",
        "/app/z/a",
        "/app/y",
    ]
    assert list(iter_nodes(Node())) == []


def test_deep_trees_do_not_hit_the_recursion_limit():
    depth = 3000
    text = "".join("  " * i + f"/n{i}\n" for i in range(depth))
    root = parse_text(text)
    assert len(list(iter_nodes(root))) == depth
    assert emit_tree(root) == text
    assert parse_text(emit_tree(root)) == root


def chain(depth, leaf=None):
    """A tree of nodes ``/n/n/n...`` ``depth`` levels deep, the last one holding ``leaf``."""
    root = node_ = Node()
    for _ in range(depth):
        child = Node("n")
        node_.children["n"] = child
        node_ = child
    node_.properties.update(leaf or {})
    return root


def nested_list(depth, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_equality_and_iter_nodes_work_10000_levels_deep():
    depth = 10_000
    assert chain(depth, {"x": 1}) == chain(depth, {"x": 1})
    assert chain(depth, {"x": 1}) != chain(depth, {"x": 2})
    assert chain(depth) != chain(depth + 1)
    paths = [path for path, _ in iter_nodes(chain(depth))]
    assert len(paths) == depth and paths[-1] == "/n" * depth


def test_equality_of_deeply_nested_values_does_not_recurse():
    assert Node("a", {"x": nested_list(10_000)}) == Node("a", {"x": nested_list(10_000)})
    assert Node("a", {"x": nested_list(10_000, 1)}) != Node("a", {"x": nested_list(10_000, True)})
