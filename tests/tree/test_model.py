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
