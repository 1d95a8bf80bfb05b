"""ACLs that hold: with ``auth``, everything zkservices creates is world-readable and
writable only by the authenticated identity -- registrations, their missing parents,
``create`` and ``ensure_path`` -- and a refused write is NotAuthorized naming the node."""

from __future__ import annotations

import json

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

import zkservices
from zkservices.testing import expire_session

from _util import kazoo_client, props, stop

ALICE = ("digest", "alice:secret")


@pytest.fixture
def owner(zk_connection_string):
    with zkservices.ZooKeeper(zk_connection_string, auth=[ALICE]) as zk:
        yield zk


@pytest.fixture
def stranger(zk_connection_string):
    client = kazoo_client(zk_connection_string)  # no auth at all
    yield client
    stop(client)


def _attempts(stranger, node):
    """The six writes an unauthenticated session would use to take traffic over."""
    data = json.dumps({"host": "6.6.6.6", "port": 80}).encode()
    return {
        "delete the registration": lambda: stranger.delete(node),
        "replace the registration": lambda: (stranger.delete(node), stranger.create(node, data)),
        "add a provider": lambda: stranger.create("/svc/providers/6.6.6.6:80", data),
        "change the service's properties": lambda: stranger.set("/svc", b'{"weight": 0}'),
        "write the providers node": lambda: stranger.set("/svc/providers", b'{"x": 1}'),
        "add a child": lambda: stranger.create("/svc/evil"),
    }


def test_no_unauthenticated_write_succeeds(owner, stranger):
    reg = owner.register_server("/svc/providers", "10.0.0.1:8080", weight=1)
    (node,) = reg.paths
    succeeded = []
    for what, attempt in _attempts(stranger, node).items():
        try:
            attempt()
        except NoAuthError:
            continue
        succeeded.append(what)
    assert succeeded == []
    # reads still work for everybody
    assert stranger.get_children("/svc/providers") == ["10.0.0.1:8080"]
    assert props(stranger, node)["weight"] == 1


def test_nodes_made_with_create_and_ensure_path_get_the_default_acl(owner, stranger):
    owner.create("/cfg", b'{"a": 1}', makepath=True)
    owner.ensure_path("/deep/er/path")
    for path in ("/cfg", "/deep", "/deep/er", "/deep/er/path"):
        acl, _ = stranger.get_acls(path)
        assert {(a.id.scheme, a.perms) for a in acl} == {("world", 1), ("digest", 31)}, path
        with pytest.raises(NoAuthError):
            stranger.set(path, b"{}")


def test_an_acl_given_to_the_helper_wins(zk_connection_string, stranger):
    mine = make_digest_acl("alice", "secret", all=True)
    with zkservices.ZooKeeper(zk_connection_string, auth=[ALICE], acl=[mine]) as zk:
        zk.create("/private")
        acl, _ = zk.client.get_acls("/private")
        assert [(a.id.scheme, a.perms) for a in acl] == [("digest", 31)]
        with pytest.raises(NoAuthError):
            stranger.get("/private")
        zk.delete("/private")  # nobody else can read it: the chroot's cleanup could not


def test_a_refused_write_is_not_authorized_naming_the_node(owner, zk_connection_string):
    reg = owner.register_server("/svc/providers", "10.0.0.1:8080")
    (node,) = reg.paths
    with zkservices.ZooKeeper(zk_connection_string, auth=[("digest", "bob:other")]) as bob:
        with pytest.raises(zkservices.NotAuthorized, match=f"write {node}: not authorized") as info:
            bob.properties(node).update(weight=0)
        assert isinstance(info.value, NoAuthError) and info.value.path == node
        with pytest.raises(zkservices.NotAuthorized, match="/svc/providers/10.0.0.2:1"):
            bob.register_server("/svc/providers", "10.0.0.2:1")
        with pytest.raises(zkservices.NotAuthorized, match="delete"):
            bob.delete(node)
        with pytest.raises(zkservices.NotAuthorized, match="/svc/x"):
            bob.create("/svc/x")
    assert owner.get_properties(node)["port"] == 8080


def test_the_owner_keeps_full_control_across_its_own_session_expiry(owner, stranger):
    reg = owner.register_server("/svc/providers", "10.0.0.1:8080", weight=1)
    (node,) = reg.paths
    expire_session(owner)
    assert stranger.get_children("/svc/providers") == ["10.0.0.1:8080"]
    owner.properties(node).update(weight=5)
    owner.properties("/svc").update(config=1)
    assert props(stranger, node)["weight"] == 5
    with pytest.raises(NoAuthError):
        stranger.delete(node)
    reg.unregister()
    assert stranger.get_children("/svc/providers") == []


def test_tree_imports_get_the_default_acl(owner, stranger):
    owner.import_tree("/cfg\n  threads = 4\n  /db\n    host = 'x'\n")
    for path in ("/cfg", "/cfg/db"):
        acl, _ = stranger.get_acls(path)
        assert {(a.id.scheme, a.perms) for a in acl} == {("world", 1), ("digest", 31)}, path
    with pytest.raises(NoAuthError):
        stranger.set("/cfg", b"{}")
    with pytest.raises(NoAuthError):
        stranger.create("/cfg/evil")
