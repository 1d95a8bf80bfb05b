"""Trees in and out of a real ZooKeeper: import_tree, export_tree, walk, delete_recursive."""

from __future__ import annotations

import json
import logging
import posixpath
import random
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.exceptions import NoNodeError
from kazoo.security import make_acl

import zkservices
from zkservices import Change, LinkLoop, Node, TreeError, emit_tree, parse_tree, validate_tree
from zkservices import _treeops

from _util import kazoo_client, stop

BROKEN = Path(__file__).parent / "data" / "broken"


# ---------------------------------------------------------------------------
# Helpers


def snapshot(client, path="/"):
    """Every node below ``path`` with its data and the stat fields a write changes."""
    out = {}
    pending = [path]
    while pending:
        p = pending.pop()
        data, stat = client.get(p)
        out[p] = (data, stat.mzxid, stat.version, stat.cversion, stat.aversion, stat.pzxid, stat.ephemeralOwner)
        pending.extend(posixpath.join(p, c) for c in client.get_children(p))
    return out


def props(client, path):
    data, _ = client.get(path)
    return json.loads(data) if data else {}


def chroot_helper(zk_server, zk_chroot, sub):
    """A zkservices.ZooKeeper on a fresh sub-chroot of this test's chroot."""
    admin = kazoo_client(zk_server.connection_string + zk_chroot)
    admin.ensure_path(sub)
    stop(admin)
    return zkservices.ZooKeeper(zk_server.connection_string + zk_chroot + sub)


VALUES = [
    0, 1, -1, 2**70, -(2**63), 3.5, -0.0, 1e-300, 1.7976931348623157e308, 0.1, True, False, None,
    "", "text", "é中☃", 'quote " and \\ backslash', "new\nline\ttab", "\u2028 separators \x85 \u2029",
    "# not a comment", "= -> =>", "  padded  ", [], {}, [1, "two", None, [3.5, {"k": []}]],
    {"nested": {"deep": [True, {"x": None}]}, "b": 1, "a": 2}, "/looks/like/a/path", "123", "true", "null",
]
NODE_NAMES = ["plain", "with space", "10.0.0.1:8080", "ünï©ødé", "中文", "dots.and-dashes_", "@at", "#hash",
              "a=b", "UPPER", "x->y", "[::1]:80"]
PROP_NAMES = ["threads", "with space", "é", "a=b", "x-y", "CamelCase", "n.1", "quote'd", "type_ish"]


def big_tree(seed=1234, count=320):
    """A tree of about ``count`` nodes with every kind of value, links and property links."""
    rng = random.Random(seed)
    root = Node()
    nodes = []  # (path, node)
    while len(nodes) < count:
        if not nodes or rng.random() < 0.08:
            parent_path, parent = "", root
        else:
            parent_path, parent = rng.choice(nodes)
            if parent_path.count("/") >= 5:
                continue
        name = rng.choice(NODE_NAMES) + (str(len(nodes)) if rng.random() < 0.7 else "")
        if name in parent.children:
            continue
        node = Node(name)
        for _ in range(rng.randint(0, 4)):
            node.properties[rng.choice(PROP_NAMES)] = rng.choice(VALUES)
        if rng.random() < 0.3:
            node.properties["type"] = rng.choice(["z4m cms", "service", 7, ["a", "list"], "  odd  "])
        parent.children[name] = node
        nodes.append((f"{parent_path}/{name}", node))
    # symbolic links: absolute, relative, dangling
    for i, (path, node) in enumerate(nodes[::7]):
        target = rng.choice(nodes)[0]
        node.properties[f"abs{i} ->"] = target
        node.properties[f"rel{i} ->"] = posixpath.relpath(target, path)
        node.properties[f"dangling{i} ->"] = "/no/such/node"
    # property links to real properties elsewhere (relative and absolute)
    # (a property link's path cannot hold white space: 'PATH [NAME]')
    with_props = [(p, n) for p, n in nodes
                  if " " not in p and any(not k.endswith((" ->", " =>")) and " " not in k for k in n.properties)]
    for i, (path, node) in enumerate(nodes[::5]):
        target_path, target = rng.choice(with_props)
        name = rng.choice([k for k in target.properties if not k.endswith((" ->", " =>")) and " " not in k])
        if i % 2:
            node.properties[f"pl{i} =>"] = f"{posixpath.relpath(target_path, path)} {name}"
        elif name not in node.properties:
            node.properties[f"{name} =>"] = target_path  # the name defaults to the link's
    return root


def count_nodes(root):
    return sum(1 for _ in zkservices._tree.iter_nodes(root))


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
    warnings = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert len(warnings) == 2
    assert warnings[0].startswith("/a/b/old is not in the imported tree; not trimmed")
    assert warnings[1].startswith("/keep/spare is not in the imported tree")
    caplog.clear()
    assert populated.import_tree(EXISTING, trim=False) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
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
    monkeypatch.setattr(_treeops, "_BATCH_OPS", 3)
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
    monkeypatch.setattr(_treeops, "_BATCH_OPS", 2)
    zk.import_tree("/a\n  v = 1\n")
    real_apply = zk._apply
    calls = []

    def apply(plan, **kw):
        calls.append([str(op.change) for op in plan])
        if len(calls) == 1:  # another client gets in between our read and our write
            zk_client.create("/b/c", b'{"other":1}', makepath=True)
            zk_client.set("/a", b'{"v":0}')
        return real_apply(plan, **kw)

    monkeypatch.setattr(zk, "_apply", apply)
    changes = zk.import_tree("/a\n  v = 2\n/b\n  /c\n    mine = 1\n/d\n")
    assert calls[0] == ['set /a {"v":2}', "create /b", 'create /b/c {"mine":1}', "create /d"]
    assert len(calls) == 2
    # both batches failed as a whole (a version conflict, an existing node): nothing of
    # them was applied; the second plan starts from what the other writer left
    assert calls[1] == ['set /a {"v":2}', 'set /b/c {"mine":1}', "create /d"]
    assert [str(c) for c in changes] == calls[1]
    assert props(zk_client, "/a") == {"v": 2} and props(zk_client, "/b/c") == {"mine": 1}
    assert zk_client.exists("/d")


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


def test_export_of_the_real_root_leaves_out_zookeeper(zk_server, zk_chroot):
    with zkservices.ZooKeeper(zk_server.connection_string) as root:
        assert root.exists("/zookeeper")
        top = parse_tree(root.export_tree("/", name="r")).children["r"]
        assert "zookeeper" not in top.children
        assert "zkservices-tests" in top.children
        assert not [p for p in root.walk("/") if p.startswith("/zookeeper")]


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
    kept = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "not deleting /a/b/c/d/eph: it is an ephemeral node" in kept
    assert "not deleting /a/b/c: it has ephemeral nodes below it" in kept
    caplog.clear()
    assert walk_tree.delete_recursive("/a", ignore_if_ephemeral=True) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


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
