"""Walking and deleting trees on a real ZooKeeper (zkservices._tree.ops: walk, delete_recursive, is_ephemeral)."""

from __future__ import annotations

import logging

import pytest
from kazoo.exceptions import NoNodeError

from _util import kazoo_client, stop

from ._server_helpers import snapshot


# ---------------------------------------------------------------------------
# walk


@pytest.fixture
def walk_tree(zk, zk_client):
    zk.import_tree("/a\n  /b\n    /c\n      /d\n    /e\n  /f\n/g\n")
    other = kazoo_client(zk.connection_string)
    for path in ("/eph", "/a/eph", "/a/b/c/eph", "/a/b/c/d/eph"):
        other.create(path, b"{}", ephemeral=True)
    yield zk
    stop(other)


ALL = ["/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/eph", "/a/b/c/eph", "/a/b/e", "/a/eph", "/a/f", "/eph", "/g"]


def test_walk_is_a_lazy_pre_order_walk_from_the_start_node(walk_tree, zk_client):
    walker = walk_tree.walk()
    assert next(walker) == "/"
    assert next(walker) == "/a"
    zk_client.create("/g/late", b"{}")  # /g is read only when the walk gets there
    assert list(walker) == ALL[2:] + ["/g/late"]
    assert list(walk_tree.walk("/a/b")) == ["/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/eph", "/a/b/c/eph", "/a/b/e"]
    with pytest.raises(NoNodeError):
        walk_tree.walk("/missing")


def test_walk_skips_ephemerals_at_every_depth(walk_tree):
    assert list(walk_tree.walk(ephemeral=False)) == [p for p in ALL if not p.endswith("eph")]
    assert list(walk_tree.walk("/eph", ephemeral=False)) == []
    assert list(walk_tree.walk("/eph")) == ["/eph"]
    pairs = list(walk_tree.walk("/a", ephemeral=False, children=True))
    assert pairs == [("/a", ["b", "f"]), ("/a/b", ["c", "e"]), ("/a/b/c", ["d"]), ("/a/b/c/d", []),
                     ("/a/b/e", []), ("/a/f", [])]
    assert dict(walk_tree.walk("/a", children=True))["/a/b/c"] == ["d", "eph"]


def test_walk_prunes_what_is_removed_from_the_children_list(walk_tree):
    seen = []
    for path, names in walk_tree.walk(children=True):
        seen.append(path)
        if path == "/a":
            names.remove("b")
        if path == "/":
            names[:] = [n for n in names if n != "g"]
    assert seen == ["/", "/a", "/a/eph", "/a/f", "/eph"]


def test_walk_skips_nodes_deleted_during_the_walk(walk_tree, zk_client):
    seen = []
    for path in walk_tree.walk():
        seen.append(path)
        if path == "/a/b":
            zk_client.delete("/a/b/e")
            zk_client.delete("/a/f")
            zk_client.delete("/g")
    assert seen == ["/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/eph", "/a/b/c/eph", "/a/eph", "/eph"]


def test_walk_follows_a_link_at_the_start_and_yields_real_paths(zk):
    zk.import_tree("/real\n  /x\n/top\n  alias -> /real\n")
    assert list(zk.walk("/top/alias")) == ["/real", "/real/x"]


# ---------------------------------------------------------------------------
# delete_recursive and is_ephemeral


def test_delete_recursive_keeps_ephemerals_and_their_ancestors(walk_tree, zk_client, caplog):
    caplog.set_level(logging.INFO, "zkservices.tree")
    before = snapshot(zk_client)
    plan = walk_tree.delete_recursive("/a", dry_run=True)
    assert snapshot(zk_client) == before
    assert [str(c) for c in plan] == ["delete /a/b/e", "delete /a/f"]
    assert [str(c) for c in walk_tree.delete_recursive("/a")] == ["delete /a/b/e", "delete /a/f"]
    assert not zk_client.exists("/a/f") and not zk_client.exists("/a/b/e")
    assert zk_client.exists("/a/b/c/d/eph")
    kept = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("zkservices")]
    assert "not deleting /a/b/c/d/eph: it is an ephemeral node" in kept
    assert "not deleting /a/b/c: it has ephemeral nodes below it" in kept
    caplog.clear()
    assert walk_tree.delete_recursive("/a", ignore_if_ephemeral=True) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("zkservices")]


def test_delete_recursive_force_deletes_ephemerals_too(walk_tree, zk_client):
    changes = walk_tree.delete_recursive("/a", force=True)
    assert [str(c) for c in changes] == [
        "delete /a/b/c/d/eph", "delete /a/b/c/d", "delete /a/b/c/eph", "delete /a/b/c", "delete /a/b/e",
        "delete /a/b", "delete /a/eph", "delete /a/f", "delete /a",
    ]
    assert not zk_client.exists("/a")
    assert zk_client.exists("/g")
    with pytest.raises(NoNodeError):
        walk_tree.delete_recursive("/a")


def test_delete_recursive_of_the_root_and_through_links(zk, zk_client):
    zk.import_tree("/real\n  /x\n/top\n  alias -> /real\n")
    with pytest.raises(NoNodeError):
        zk.delete_recursive("/top/alias")  # the link itself is not a node
    assert [str(c) for c in zk.delete_recursive("/top/alias/x")] == ["delete /real/x"]
    changes = zk.delete_recursive("/")
    assert sorted(str(c) for c in changes) == ["delete /real", "delete /top"]
    assert zk_client.get_children("/") == []


def test_is_ephemeral(walk_tree):
    assert walk_tree.is_ephemeral("/a/b/c/eph")
    assert not walk_tree.is_ephemeral("/a/b/c")
    with pytest.raises(NoNodeError):
        walk_tree.is_ephemeral("/nope")
