"""Symbolic link resolution over a tree held in a dict (the function is pure: it
reads through the callables it is given; the views and facade tests run it on a
real server)."""

from __future__ import annotations

import pytest

from zkservices.errors import LinkLoop, NoNode
from zkservices._znode.links import MAX_LINK_DEPTH, resolve


def tree(nodes: dict[str, dict]):
    return (lambda path: nodes.get(path)), (lambda path: path in nodes)


def test_a_link_in_the_middle_of_a_path_is_followed():
    read, exists = tree({"/": {}, "/a": {"b ->": "../c"}, "/c": {}, "/c/d": {}})
    assert resolve("/a/b/d", read, exists) == "/c/d"


def test_an_existing_path_is_returned_as_is_and_a_missing_segment_is_named():
    read, exists = tree({"/": {}, "/a": {}})
    assert resolve("/a", read, exists) == "/a"
    with pytest.raises(NoNode) as info:
        resolve("/a/x/y", read, exists)
    assert "/a/x" in str(info.value) and "/a/x/y" not in str(info.value)


def test_a_path_of_thousands_of_segments_below_a_link_resolves_without_recursion_error():
    # every prefix of /top/n0/.../n2999 is missing: /top is a link to /real
    depth = 3000  # three times Python's default recursion limit
    nodes: dict[str, dict] = {"/": {"top ->": "real"}, "/real": {}}
    tail = ""
    for i in range(depth):
        tail += f"/n{i}"
        nodes["/real" + tail] = {}
    read, exists = tree(nodes)
    assert resolve("/top" + tail, read, exists) == "/real" + tail
    with pytest.raises(NoNode) as info:
        resolve("/top" + tail + "/nothing/below", read, exists)
    assert info.value.args[0] == "/top" + tail + "/nothing"  # the first segment that is neither node nor link


def test_links_that_refer_to_each_other_are_a_loop():
    read, exists = tree({"/": {"a ->": "b", "b ->": "a"}})
    with pytest.raises(LinkLoop, match="loop"):
        resolve("/a", read, exists)


def test_a_chain_longer_than_the_limit_is_refused():
    nodes = {"/": {f"l{i} ->": f"l{i + 1}" for i in range(MAX_LINK_DEPTH + 5)}}
    read, exists = tree(nodes)
    with pytest.raises(LinkLoop, match="too many levels"):
        resolve("/l0", read, exists)


def test_a_link_followed_twice_in_one_path_is_not_a_loop():
    # /x -> /p and /p/y -> /x/q: the link /x is used twice, but not in a cycle
    read, exists = tree({"/": {"x ->": "p"}, "/p": {"y ->": "/x/q"}, "/p/q": {}})
    assert resolve("/x/y", read, exists) == "/p/q"


def test_linked_names_in_key_order_leave_out_links_a_property_shadows():
    from zkservices._znode.links import linked_names

    properties = {"b =>": "/x", "a": 1, "a =>": "/y", "c =>": "/z", "d ->": "/w"}
    assert list(linked_names(properties)) == ["b", "c"]
