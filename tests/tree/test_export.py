"""Exporting trees from a real ZooKeeper (zkservices._tree.ops.export_tree), and round trips through import."""

from __future__ import annotations

import posixpath
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.exceptions import NoNodeError

import zkservices
from zkservices import Node, emit_tree, parse_tree
from zkservices.testing import ZooKeeperServer

from _util import kazoo_client, stop

from ._server_helpers import big_tree, chroot_helper, count_nodes, snapshot


# ---------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_round_trip_of_a_big_tree_through_empty_chroots(zk_server, zk_chroot, form):
    tree = big_tree()
    assert count_nodes(tree) >= 300
    text = emit_tree(tree, format=form)
    first = chroot_helper(zk_server, zk_chroot, "/first")
    second = chroot_helper(zk_server, zk_chroot, "/second")
    try:
        changes = first.import_tree(text)
        assert len(changes) == count_nodes(tree)
        assert all(c.action == "create" for c in changes)
        exported = first.export_tree(format=form)
        assert parse_tree(exported) == tree  # lossless: every value, type, link, property link
        assert exported == text  # the emitter's deterministic form
        assert first.export_tree(format=form) == exported  # deterministic
        other = "yaml" if form == "text" else "text"
        assert second.import_tree(first.export_tree(format=other)) != []
        assert second.export_tree(format=form) == exported
        assert second.export_tree(format=other) == first.export_tree(format=other)
        # and nothing to do the second time
        assert second.import_tree(exported) == []
    finally:
        first.close()
        second.close()


def test_export_reads_the_same_values_the_properties_view_reads(zk):
    zk.import_tree(emit_tree(big_tree(seed=7, count=60)))
    exported = parse_tree(zk.export_tree())
    for path, node in zkservices._tree.iter_nodes(exported):
        own = {k: v for k, v in node.properties.items()}
        view = zk.properties(path, watch=False)
        assert view._state[0] == own


_words = st.text(alphabet="abcxyzé中-_.:@ 019", min_size=1, max_size=6).filter(
    lambda s: s == s.strip() and not re.search(r":(\s|$)", s) and s not in (".", "..")
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def small_trees(draw):
    root = Node()
    nodes = []

    def fill(parent, path, depth):
        for name in draw(st.lists(_words, max_size=3, unique=True)):
            node = Node(name, draw(st.dictionaries(_words.filter(lambda k: not k.startswith("#")), _json, max_size=3)))
            if draw(st.booleans()):
                node.properties["type"] = draw(_json | _words)
            if draw(st.booleans()):
                node.properties["ln ->"] = draw(_words.map(lambda w: "/" + w) | st.just("../x"))
            parent.children[name] = node
            nodes.append((f"{path}/{name}", node))
            if depth:
                fill(node, f"{path}/{name}", depth - 1)

    fill(root, "", 2)
    plain = [(p, n, k) for p, n in nodes for k in n.properties
             if not k.endswith((" ->", " =>")) and " " not in p + k]
    if plain and nodes:
        for i in range(draw(st.integers(0, 3))):
            path, node = draw(st.sampled_from(nodes))
            target_path, _, key = draw(st.sampled_from(plain))
            node.properties[f"link{i} =>"] = f"{posixpath.relpath(target_path, path)} {key}"
    return root


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(tree=small_trees(), form=st.sampled_from(["text", "yaml"]))
def test_property_random_trees_survive_import_and_export(zk, tree, form):
    base = "/h" + uuid.uuid4().hex[:8]
    text = emit_tree(tree, format=form)
    zk.import_tree(text, base)
    exported = zk.export_tree(base, format=form)
    name = base[1:]
    assert parse_tree(exported) == Node("", children={name: Node(name, {}, dict(tree.children))})
    assert zk.import_tree(text, base) == []


# ---------------------------------------------------------------------------
# Export


def test_export_names_and_paths_as_zc_zk_did(zk):
    zk.import_tree("/a : svc\n  x = 1\n  /b\n    y = 2\n")
    zk.properties("/").set(root=True)
    assert zk.export_tree("/a") == "/a : svc\n  x = 1\n  /b\n    y = 2\n"
    assert zk.export_tree("/a", name="renamed") == "/renamed : svc\n  x = 1\n  /b\n    y = 2\n"
    assert zk.export_tree("/a/b") == "/b\n  y = 2\n"
    assert zk.export_tree("/") == zk.export_tree() == "/a : svc\n  x = 1\n  /b\n    y = 2\n"
    assert zk.export_tree("/", name="all") == "/all\n  root = true\n  /a : svc\n    x = 1\n    /b\n      y = 2\n"
    assert zk.export_tree("/a", format="yaml") == "/a:\n  type: svc\n  x: 1\n  /b:\n    y: 2\n"
    with pytest.raises(NoNodeError):
        zk.export_tree("/missing")
    with pytest.raises(ValueError):
        zk.export_tree("/a", format="xml")
    with pytest.raises(ValueError):
        zk.export_tree("/a", name="no/slash")


def test_export_follows_links_and_keeps_the_given_name(zk):
    zk.import_tree("/real\n  x = 1\n/top\n  alias -> /real\n")
    assert zk.export_tree("/top/alias") == "/alias\n  x = 1\n"


def test_export_leaves_out_ephemerals_unless_asked_and_print_tree_shows_them(zk, capsys):
    zk.import_tree("/svc\n  /providers\n")
    zk.register_server("/svc/providers", ("10.0.0.1", 80), weight=1)
    assert zk.export_tree() == "/svc\n  /providers\n"
    with_ephemeral = zk.export_tree(ephemeral=True)
    assert "    /10.0.0.1:80\n" in with_ephemeral and "      weight = 1\n" in with_ephemeral
    assert zk.export_tree("/svc/providers/10.0.0.1:80") == ""
    zk.print_tree()
    assert capsys.readouterr().out == with_ephemeral


def test_non_json_data_exports_as_string_value_and_survives_a_reimport(zk, zk_client):
    zk_client.create("/raw", b"plain text, not JSON")
    zk_client.create("/list", b"[1, 2]")
    zk_client.create("/empty", b"")
    text = zk.export_tree()
    assert text == '/empty\n/list\n  string_value = "[1, 2]"\n/raw\n  string_value = "plain text, not JSON"\n'
    before = snapshot(zk_client)
    assert zk.import_tree(text) == []
    assert snapshot(zk_client) == before


@pytest.mark.zookeeper  # starts a server of its own
def test_export_of_the_real_root_leaves_out_zookeeper():
    # A server of its own: the shared one's root holds whatever other tests
    # left behind, such as nodes this session may not read.
    with ZooKeeperServer(name="realroot") as server, zkservices.ZooKeeper(server.connection_string) as root:
        root.create("/zkservices-tests", b"{}")
        assert root.exists("/zookeeper")
        top = parse_tree(root.export_tree("/", name="r")).children["r"]
        assert "zookeeper" not in top.children
        assert "zkservices-tests" in top.children
        assert not [p for p in root.walk("/") if p.startswith("/zookeeper")]


# ---------------------------------------------------------------------------
# Depth


def chain(depth, leaf=None):
    root = current = Node()
    for _ in range(depth):
        child = Node("n")
        current.children["n"] = child
        current = child
    current.properties.update(leaf or {})
    return root


def test_a_deep_tree_goes_in_and_out_in_both_forms(zk, zk_client):
    depth = 1_000  # (deep enough for any recursion to fail; block YAML parses in quadratic time)
    tree = chain(depth, {"x": [1, {"y": None}]})
    assert len(zk.import_tree(tree, "/deep")) == depth + 1
    text = zk.export_tree("/deep")
    assert parse_tree(text) == Node(children={"deep": Node("deep", {}, dict(tree.children))})
    yaml_text = zk.export_tree("/deep", format="yaml")
    assert parse_tree(yaml_text) == parse_tree(text)
    assert zk.import_tree(yaml_text) == []
    walked = list(zk.walk("/deep"))
    assert len(walked) == depth + 1 and walked[-1] == "/deep" + "/n" * depth
    changes = zk.delete_recursive("/deep")
    assert len(changes) == depth + 1 and changes[0].path == walked[-1]
    assert not zk_client.exists("/deep")


def test_node_data_nested_deeper_than_a_tree_holds_exports_as_string_value(zk, zk_client, caplog):
    deep = b'{"a": ' + b"[" * 150 + b"]" * 150 + b"}"
    zk_client.create("/s", b"{}")
    zk_client.create("/s/deep", deep)
    for form in ("text", "yaml"):
        text = zk.export_tree("/s", format=form)
        assert parse_tree(text).children["s"].children["deep"].properties == {"string_value": deep.decode()}
        assert zk.import_tree(text) == []
    assert zk_client.get("/s/deep")[0] == deep
    assert any("/s/deep" in r.getMessage() and "levels deep" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------
# Data no tree form can hold, missing roots, the root's properties


UNWRITABLE = [
    b'{"a": NaN}',
    b'{"a": 1e400}',
    b'{"": 1}',
    b'{"/x": 1}',
    b'{"a ->": 3}',
    b'{"a ->": ""}',
    b'{"a/b ->": "/x"}',
    b'{"a =>": "x y z"}',
    b"[" * 100_000,
]


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_export_of_data_no_tree_form_can_hold_survives_and_reimports_unchanged(zk, zk_client, form, caplog):
    zk_client.create("/s", b"{}")
    zk_client.create("/s/ok", b'{"x":1}')
    for i, data in enumerate(UNWRITABLE):
        zk_client.create(f"/s/n{i}", data)
    text = zk.export_tree("/s", format=form)  # raised ValueError / RecursionError before
    tree = zkservices.parse_tree(text)
    assert tree.children["s"].children["ok"].properties == {"x": 1}
    for i, data in enumerate(UNWRITABLE):
        assert tree.children["s"].children[f"n{i}"].properties == {"string_value": data.decode()}
    # NaN and 1e400 (n0, n1) read as non-JSON data already; JSON objects no tree
    # form can hold (n2: an empty property name) are exported so with a warning
    assert any("/s/n2" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    # importing the export over the unchanged tree leaves the original data alone
    assert zk.import_tree(text, "/") == []
    for i, data in enumerate(UNWRITABLE):
        assert zk_client.get(f"/s/n{i}")[0] == data


@pytest.mark.filterwarnings("ignore:No chroot path exists")  # kazoo's own warning
def test_export_and_walk_of_a_missing_chroot_raise_no_node(zk_server, zk_chroot):
    with zkservices.ZooKeeper(zk_server.connection_string + zk_chroot + "/missing") as zk:
        with pytest.raises(NoNodeError):
            zk.export_tree("/")  # returned "" before: an empty backup, no error
        with pytest.raises(NoNodeError):
            zk.walk("/")
        with pytest.raises(NoNodeError):
            zk.print_tree("/")


def test_export_of_the_root_warns_that_its_properties_are_left_out(zk_server, zk_chroot, caplog):
    admin = kazoo_client(zk_server.connection_string)
    try:
        admin.set(zk_chroot, b'{"config":1}')
    finally:
        stop(admin)
    with zkservices.ZooKeeper(zk_server.connection_string + zk_chroot) as zk:
        zk.create("/a", b"{}")
        assert zk.export_tree("/") == "/a\n"
        assert any("config" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
        caplog.clear()
        assert zk.export_tree("/", name="top") == "/top\n  config = 1\n  /a\n"
        assert not [r for r in caplog.records if r.levelname == "WARNING"]

