"""Checking trees without a server (zkservices._tree.checks: validate_tree, check_tree)."""

from __future__ import annotations

import logging

import pytest

from zkservices import Node, TreeError, parse_tree, validate_tree
from zkservices._tree import check_tree


def test_validate_tree_checks_links_inside_the_tree_and_leaves_the_rest(caplog):
    good = "/a\n  x = 1\n  t => /b y\n/b\n  y => ../a x\n  out => /elsewhere q\n"
    caplog.set_level(logging.INFO, "zkservices.tree")
    root = validate_tree(good, filename="g.tree")
    assert root == parse_tree(good)
    assert any("'out =>'" in r.getMessage() and "leads out of the tree" in r.getMessage() for r in caplog.records)
    with pytest.raises(TreeError, match=r"bad.tree, line 2: .*has no property 'nope'"):
        validate_tree("/a\n  /b\n    t => /a nope\n", filename="bad.tree")
    with pytest.raises(TreeError, match=r"line 1: .*property link loop"):
        validate_tree("/a\n  p => /a q\n  q => /a p\n")
    with pytest.raises(TreeError, match="node size limit"):
        validate_tree(Node(children={"a": Node("a", {"v": "x" * 1_100_000})}))


def chain(depth, leaf=None):
    root = current = Node()
    for _ in range(depth):
        child = Node("n")
        current.children["n"] = child
        current = child
    current.properties.update(leaf or {})
    return root


def test_deep_trees_are_checked_without_recursion():
    root = chain(10_000, {"t =>": ".. x"})
    parent = root
    for _ in range(9_999):
        parent = parent.children["n"]
    parent.properties["x"] = 1
    assert validate_tree(root) is root
    checked = check_tree(root)
    assert len(checked.items) == 10_000 and checked.unchecked_links == []
    assert checked.items[-1][2] == b'{"t =>":".. x"}'
    parent.properties.clear()
    with pytest.raises(TreeError, match="has no property 'x'"):
        check_tree(root)


def test_check_tree_reports_nodes_and_links_that_leave_the_tree():
    checked = check_tree("/a\n  x = 1\n  t => /b y\n  out => /elsewhere q\n/b\n  y = 2\n", filename="f.tree")
    assert [path for path, _, _ in checked.items] == ["/a", "/b"]
    assert checked.unchecked_links == ["/a 'out =>'"]
    assert check_tree("/a\n  out => /elsewhere q\n", links=False).unchecked_links == []
    assert repr(checked) == "TreeCheck(2 node(s), 1 unchecked link(s))"


def test_values_nested_too_deeply_in_trees_built_in_python_are_refused():
    deep = 1
    for _ in range(101):
        deep = [deep]
    with pytest.raises(TreeError, match=r"node /a/b: property 'x': .*more than 100 levels deep"):
        validate_tree(Node(children={"a": Node("a", children={"b": Node("b", {"x": deep})})}))


def linked_chain(links):
    """``/a0`` holding ``x = 1`` and ``/a1`` ... ``/a<links>``, each with ``x => ../a<i-1>``."""
    return "/a0\n  x = 1\n" + "".join(f"/a{i}\n  x => ../a{i - 1}\n" for i in range(1, links + 1))


def test_chains_of_property_links_are_followed_up_to_64_links():
    validate_tree(linked_chain(64))
    with pytest.raises(TreeError, match=r"line 131: /a65 'x =>': more than 64 property links in a row"):
        validate_tree(linked_chain(65))


def test_property_links_chained_through_a_tree_10000_levels_deep_are_refused_naming_the_line():
    depth = 10_000
    text = "/n\n x = 1\n" + "".join(" " * i + "/n\n" + " " * (i + 1) + "x => .. x\n" for i in range(1, depth))
    with pytest.raises(TreeError, match=r"line 131: .*more than 64 property links in a row"):
        validate_tree(text)
