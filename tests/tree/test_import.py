"""Importing trees into a real ZooKeeper (zkservices._tree.ops.import_tree, plan, apply)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from kazoo.security import make_acl

import zkservices
from zkservices import Change, LinkLoop, Node, TreeError, parse_tree, validate_tree
from zkservices._tree import apply as apply_module

from _util import kazoo_client, stop

from ._helpers import BROKEN
from ._server_helpers import props, snapshot


# ---------------------------------------------------------------------------
# Bad input changes nothing


EXISTING = """\
/a
  x = 1
  /b
    y = "two"
/keep
  z = [1, 2]
"""


@pytest.fixture
def populated(zk, zk_client):
    zk.import_tree(EXISTING)
    return zk


def _expected_line(path):
    header = re.match(rb"(?:#[^\n]*\n)*?# expect: line (\d+): ", path.read_bytes())
    assert header, path
    return int(header.group(1))


def test_the_broken_corpus_is_there():
    assert len(list(BROKEN.glob("*.tree"))) >= 40


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.tree")), ids=lambda p: p.stem)
def test_a_broken_file_names_its_line_and_leaves_the_server_untouched(populated, zk_client, path):
    lineno = _expected_line(path)
    before = snapshot(zk_client)
    export_before = populated.export_tree()
    for target in ("/", "/a"):
        with pytest.raises(TreeError) as info:
            populated.import_tree(path.read_bytes(), target, trim=True, filename=path.name)
        assert info.value.lineno == lineno, str(info.value)
        assert f"{path.name}, line {lineno}: " in str(info.value)
    with pytest.raises(TreeError) as info:
        validate_tree(path.read_bytes(), filename=path.name)
    assert info.value.lineno == lineno
    assert snapshot(zk_client) == before  # data, mzxid, pzxid, versions: nothing was written
    assert populated.export_tree() == export_before


SERVER_ONLY_ERRORS = [
    # (text, line, fragment): errors only a check against the server (or the size limit) finds
    ("/a\n  x = 1\n/big\n  ok = 1\n  v = " + json.dumps("x" * 1_100_000) + "\n", 3,
     "/big: encoded data is 1,100,0"),
    ("/a\n  x = 1\n/c\n  t => /nowhere t\n", 3, "names a missing node"),
    ("/a\n  x = 1\n/c\n  t => /keep nope\n", 3, "has no property 'nope'"),
    ("/a\n  x = 1\n/c\n  t => /a/b y\n", 3, "names a missing node"),  # /a/b is trimmed by this import
    ("/a\n  x = 1\n  /b\n/c\n  y => /a/b\n", 4, "has no property 'y'"),  # y is removed by this import
    ("/a\n  x = 1\n/c\n  p => /d q\n/d\n  q => /c p\n", 3, "property link loop"),
    ("/a\n  x = 1\n  l1 -> l2\n  l2 -> l1\n/c\n  t => /a/l1 x\n", 5, "symbolic link loop"),
]


@pytest.mark.parametrize("text,lineno,fragment", SERVER_ONLY_ERRORS, ids=lambda v: str(v)[:20])
def test_errors_found_against_the_server_name_the_line_and_change_nothing(populated, zk_client, text, lineno, fragment):
    before = snapshot(zk_client)
    with pytest.raises(TreeError) as info:
        populated.import_tree(text, trim=True, filename="f.tree")
    assert info.value.lineno == lineno, str(info.value)
    assert str(info.value).startswith(f"f.tree, line {lineno}: ")
    assert fragment in str(info.value)
    assert snapshot(zk_client) == before


def test_property_links_may_use_what_the_import_creates_and_what_the_server_has(populated, zk_client):
    changes = populated.import_tree(
        "/c\n  t => /keep z\n  u => d/e w\n  /d\n    /e\n      w = 5\n", "/new/base"
    )
    assert [str(c) for c in changes][:3] == ["create /new", "create /new/base", 'create /new/base/c {"t =>":"/keep z","u =>":"d/e w"}']
    assert populated.get_properties("/new/base/c") == {"t": [1, 2], "u": 5}


def test_symbolic_links_may_dangle_or_loop(zk, zk_client):
    zk.import_tree("/a\n  l1 -> l2\n  l2 -> l1\n  d -> /nowhere\n")
    assert props(zk_client, "/a") == {"l1 ->": "l2", "l2 ->": "l1", "d ->": "/nowhere"}
    with pytest.raises(LinkLoop):
        zk.resolve("/a/l1")


def test_trees_built_in_python_are_checked_too(zk, zk_client):
    before = snapshot(zk_client)
    for bad in [
        Node(children={"a/b": Node("a/b")}),
        Node(children={"a": Node("other")}),
        Node(children={"zookeeper": Node("zookeeper")}),
        Node(children={"a": Node("a", {"x": float("nan")})}),
        Node(children={"a": Node("a", {"l ->": ""})}),
        Node(children={"a": Node("a", {"s": {1, 2}})}),
        Node("", {"root": 1}),
    ]:
        with pytest.raises(ValueError):
            zk.import_tree(bad)
    with pytest.raises(TypeError):
        zk.import_tree(42)
    assert snapshot(zk_client) == before


# ---------------------------------------------------------------------------
# What an import changes


def test_an_unchanged_reimport_writes_nothing(populated, zk_client):
    zk_client.set("/keep", b'{ "z" : [1,   2] }')  # same properties, other bytes
    before = snapshot(zk_client)
    for trim in (True, None, False):
        assert populated.import_tree(EXISTING, trim=trim) == []
    reordered = "/keep\n  z = [1, 2]\n/a\n  /b\n    y = 'two'\n  x = 1.0e0\n"
    assert populated.import_tree(reordered) == [Change("set", "/a", b'{"x":1.0}')]  # 1.0 is not 1
    assert props(zk_client, "/a") == {"x": 1.0}
    after = snapshot(zk_client)
    assert {p: v for p, v in after.items() if p != "/a"} == {p: v for p, v in before.items() if p != "/a"}
    assert zk_client.get("/keep")[0] == b'{ "z" : [1,   2] }'


def test_each_node_gets_exactly_the_properties_given(populated, zk_client):
    populated.properties("/a").update(extra="x")
    changes = populated.import_tree("/a\n  x = 2\n")
    assert [str(c) for c in changes] == ['set /a {"x":2}']
    assert props(zk_client, "/a") == {"x": 2}


def test_changes_are_logged_at_info_and_read_as_lines(zk, caplog):
    caplog.set_level(logging.INFO, "zkservices.tree")
    changes = zk.import_tree("/a\n  x = 1\n  /b\n")
    assert [str(c) for c in changes] == ['create /a {"x":1}', "create /a/b"]
    logged = [r.getMessage() for r in caplog.records if r.name == "zkservices.tree"]
    assert logged == ['create /a {"x":1}', "create /a/b"]
    assert changes[0].properties == {"x": 1} and changes[0].path == "/a"
    with pytest.raises(AttributeError):
        changes[0].path = "/b"  # frozen
    assert str(Change("delete", "/a/old")) == "delete /a/old"
    assert str(Change("acl", "/a", acl=(make_acl("world", "anyone", read=True),))) == "acl /a world:anyone:r"
    long = str(Change("set", "/a", b'{"v":"' + b"x" * 500 + b'"}'))
    assert len(long) < 220 and long.endswith("…")


def test_dry_run_returns_the_plan_and_writes_nothing(populated, zk_client, caplog):
    zk_client.create("/a/b/extra", b"{}")
    zk_client.create("/a/extra2/deeper", b"{}", makepath=True)
    before = snapshot(zk_client)
    text = "/a\n  x = 2\n  /b\n    y = 'two'\n  /new\n    n = 1\n"
    caplog.set_level(logging.INFO, "zkservices.tree")
    plan = populated.import_tree(text, trim=True, dry_run=True)
    assert [str(c) for c in plan] == [
        'set /a {"x":2}', 'create /a/new {"n":1}',
        "delete /a/extra2/deeper", "delete /a/extra2", "delete /a/b/extra",
    ]
    assert snapshot(zk_client) == before
    assert any(r.getMessage() == "dry run: delete /a/extra2" for r in caplog.records)
    assert populated.import_tree(text, trim=True) == plan
    assert populated.import_tree(text, trim=True, dry_run=True) == []


def test_trim_true_deletes_extras_but_never_ephemerals_nor_their_ancestors(populated, zk_client):
    other = kazoo_client(populated.connection_string)
    try:
        zk_client.create("/a/b/old/older", b"{}", makepath=True)
        zk_client.create("/a/holder/deep", b"{}", makepath=True)
        other.create("/a/holder/deep/eph", b"{}", ephemeral=True)
        other.create("/a/eph", b"{}", ephemeral=True)
        zk_client.create("/sibling", b"{}")  # beside the top-level nodes: never trimmed
        changes = populated.import_tree(EXISTING, trim=True)
        assert sorted(str(c) for c in changes) == ["delete /a/b/old", "delete /a/b/old/older"]
        assert [str(c) for c in changes] == ["delete /a/b/old/older", "delete /a/b/old"]  # children first
        for kept in ("/a/holder", "/a/holder/deep", "/a/holder/deep/eph", "/a/eph", "/sibling"):
            assert zk_client.exists(kept), kept
        assert populated.import_tree(EXISTING, trim=True) == []
    finally:
        stop(other)


def test_trim_none_warns_about_each_extra_and_keeps_it(populated, zk_client, caplog):
    zk_client.create("/a/b/old/older", b"{}", makepath=True)
    zk_client.create("/keep/spare", b"{}")
    populated.register_server("/a/b", ("10.0.0.1", 80))  # ephemeral: nothing to warn about
    caplog.set_level(logging.INFO, "zkservices.tree")
    before = snapshot(zk_client)
    assert populated.import_tree(EXISTING) == []
    warnings = sorted(r.getMessage() for r in caplog.records
                      if r.levelno == logging.WARNING and r.name.startswith("zkservices"))
    assert len(warnings) == 2
    assert warnings[0].startswith("/a/b/old is not in the imported tree; not trimmed")
    assert warnings[1].startswith("/keep/spare is not in the imported tree")
    caplog.clear()
    assert populated.import_tree(EXISTING, trim=False) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("zkservices")]
    assert snapshot(zk_client) == before


def test_acls_are_given_to_created_nodes_and_set_where_different(zk_connection_string, zk_client):
    helper = zkservices.ZooKeeper(zk_connection_string, auth=[("digest", "user:secret")])
    try:
        acl = [make_acl("world", "anyone", read=True), make_acl("auth", "", all=True)]
        changes = helper.import_tree("/a\n  /b\n", acl=acl)
        assert [c.action for c in changes] == ["create", "create"]
        acls, _ = zk_client.get_acls("/a/b")
        assert {(a.id.scheme, a.perms) for a in acls} == {("world", 1), ("digest", 31)}
        assert helper.import_tree("/a\n  /b\n", acl=acl) == []  # auth entries compare as stored
        helper.client.create("/a/c", b"{}")  # open ACL
        changes = helper.import_tree("/a\n  /b\n  /c\n", acl=acl)
        assert [str(c) for c in changes] == ["acl /a/c world:anyone:r,auth::rwcda"]
        assert {(a.id.scheme, a.perms) for a in zk_client.get_acls("/a/c")[0]} == {("world", 1), ("digest", 31)}
        assert helper.import_tree("/a\n  /b\n  /c\n") == []  # acl=None leaves ACLs alone
    finally:
        helper.close()


def test_import_writes_through_symbolic_links_to_the_real_node(zk, zk_client):
    zk.import_tree("/real\n  /app\n/top\n  app -> /real/app\n  gone -> /later/here\n")
    before_top = zk_client.get_children("/top")
    changes = zk.import_tree("/svc\n  x = 1\n", "/top/app")
    assert [str(c) for c in changes] == ['create /real/app/svc {"x":1}']
    assert zk_client.get_children("/top") == before_top
    assert props(zk_client, "/real/app/svc") == {"x": 1}
    # a dangling link: its target is created, no real node shadows the link
    changes = zk.import_tree("/svc\n", "/top/gone")
    assert [str(c) for c in changes] == ["create /later", "create /later/here", "create /later/here/svc"]
    assert zk_client.get_children("/top") == before_top
    assert zk.resolve("/top/gone/svc") == "/later/here/svc"


def test_importing_into_a_link_loop_raises_and_changes_nothing(zk, zk_client):
    zk.import_tree("/top\n  a -> b\n  b -> a\n")
    before = snapshot(zk_client)
    with pytest.raises(LinkLoop):
        zk.import_tree("/x\n", "/top/a")
    with pytest.raises(LinkLoop):
        zk.import_tree("/x\n", "/top/a/deeper", dry_run=True)
    assert snapshot(zk_client) == before


def test_batches_stay_small_and_apply_in_order(zk, zk_client, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 3)
    text = "".join(f"/n{i}\n  i = {i}\n" + "".join(f"  /c{j}\n    /d\n" for j in range(3)) for i in range(5))
    changes = zk.import_tree(text)
    assert len(changes) == 5 * 7
    assert parse_tree(zk.export_tree()) == parse_tree(text)
    # three nodes of 400 kB each: one request of 1.2 MB would be refused by the server
    blob = "x" * 400_000
    big = "".join(f"/big{i}\n  v = \"{blob}\"\n" for i in range(3))
    assert len(zk.import_tree(big)) == 3
    assert props(zk_client, "/big2")["v"] == blob


def test_a_conflicting_writer_makes_the_import_plan_again(zk, zk_client, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 2)
    zk.import_tree("/a\n  v = 1\n")
    real_apply = apply_module.apply_plan
    calls = []

    def apply(core, plan, **kw):
        calls.append([str(op.change) for op in plan])
        if len(calls) == 1:  # another client gets in between our read and our write
            zk_client.create("/b/c", b'{"other":1}', makepath=True)
            zk_client.set("/a", b'{"v":0}')
        return real_apply(core, plan, **kw)

    monkeypatch.setattr(apply_module, "apply_plan", apply)
    changes = zk.import_tree("/a\n  v = 2\n/b\n  /c\n    mine = 1\n/d\n")
    assert calls[0] == ['set /a {"v":2}', "create /b", 'create /b/c {"mine":1}', "create /d"]
    assert len(calls) == 2
    # both batches failed as a whole (a version conflict, an existing node): nothing of
    # them was applied; the second plan starts from what the other writer left
    assert calls[1] == ['set /a {"v":2}', 'set /b/c {"mine":1}', "create /d"]
    assert [str(c) for c in changes] == calls[1]
    assert props(zk_client, "/a") == {"v": 2} and props(zk_client, "/b/c") == {"mine": 1}
    assert zk_client.exists("/d")


def test_import_below_a_deep_missing_path_creates_it(zk, zk_client):
    base = "/deep" * 1_000
    changes = zk.import_tree("/x\n  v = 1\n", base)
    assert len(changes) == 1_001 and changes[0].path == "/deep" and changes[-1].path == base + "/x"
    assert props(zk_client, base + "/x") == {"v": 1}
    assert zk.import_tree("/x\n  v = 1\n", base) == []


def test_import_through_links_that_loop_names_the_loop(zk, zk_client):
    zk.import_tree("/top\n  a -> b\n  b -> a\n")
    with pytest.raises(LinkLoop, match="symbolic link loop: /top/a -> /top/b -> /top/a"):
        zk.import_tree("/x\n", "/top/a/below")


# ---------------------------------------------------------------------------
# Importing over data no tree form can hold


def test_import_over_unwritable_data_still_replaces_it_when_the_tree_differs(zk, zk_client):
    zk_client.create("/s", b'{"a": NaN}')
    assert [str(c) for c in zk.import_tree("/s\n  a = 1\n")] == ['set /s {"a":1}']
    assert zk_client.get("/s")[0] == b'{"a":1}'

