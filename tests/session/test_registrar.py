"""register_server / unregister on a real server, checked from another session."""

from __future__ import annotations

import logging
import os
import time

import pytest

import zkservices
from zkservices.testing import expire_session
from zkservices._znode.paths import format_address
from zkservices._os.addresses import local_addresses

from _util import kazoo_client, props, stop


def test_node_name_and_data(zk, zk_client):
    reg = zk.register_server("/fooservice/providers", ("192.168.0.42", 8080), weight=3, tags=["a"])
    assert isinstance(reg, zkservices.Registration)
    assert reg.paths == ("/fooservice/providers/192.168.0.42:8080",)
    assert zk_client.get_children("/fooservice/providers") == ["192.168.0.42:8080"]
    data = props(zk_client, reg.paths[0])
    assert data == {"weight": 3, "tags": ["a"], "pid": os.getpid(), "host": "192.168.0.42", "port": 8080}
    raw, stat = zk_client.get(reg.paths[0])
    assert b" " not in raw  # compact JSON
    assert stat.ephemeralOwner == zk.client.client_id[0]


def test_string_address(zk, zk_client):
    reg = zk.register_server("/svc", "10.0.0.1:9000")
    assert zk_client.get_children("/svc") == ["10.0.0.1:9000"]
    assert props(zk_client, reg.paths[0])["port"] == 9000


@pytest.mark.parametrize("address", [("::1", 8080), "[::1]:8080", ("[::1]", 8080)])
def test_ipv6_address_in_brackets(zk, zk_client, address):
    reg = zk.register_server("/v6", address)
    assert zk_client.get_children("/v6") == ["[::1]:8080"]
    assert props(zk_client, reg.paths[0])["host"] == "::1"


@pytest.mark.parametrize("address", [":8080", ("", 8080)])
def test_blank_host_registers_every_local_address(zk, zk_client, address):
    expected = sorted(format_address(a, 8080) for a in local_addresses())
    reg = zk.register_server("/blank", address)
    assert sorted(zk_client.get_children("/blank")) == expected
    assert sorted(reg.paths) == sorted(f"/blank/{name}" for name in expected)
    for path in reg.paths:
        data = props(zk_client, path)
        assert format_address(data["host"], data["port"]) == path.rsplit("/", 1)[1]
        if expected != ["127.0.0.1:8080"]:  # the machine has other addresses: no loopback
            assert not data["host"].startswith("127.") and data["host"] != "::1"
    zk.unregister("/blank", address)
    assert zk_client.get_children("/blank") == []


def test_a_blank_host_unregisters_what_it_registered_though_the_addresses_changed(zk, zk_client, monkeypatch):
    # an interface went down between register and unregister (DHCP, a VPN, a container
    # bridge): the node of its address goes too, out of the table as well (never restored)
    import zkservices._session.registrar as registrar_module
    import zkservices._session.registration as registration_module

    addresses = ["10.9.8.6", "10.9.8.7"]
    for module in (registrar_module, registration_module):
        monkeypatch.setattr(module, "local_addresses", lambda: list(addresses))
    zk.register_server("/moved", ":8080")
    assert sorted(zk_client.get_children("/moved")) == ["10.9.8.6:8080", "10.9.8.7:8080"]
    addresses.remove("10.9.8.6")
    zk.unregister("/moved", ":8080")
    assert zk_client.get_children("/moved") == []
    assert zk.registrar.owned_paths() == set()


def test_missing_parents_are_created(zk, zk_client):
    zk.register_server("/a/b/c", "10.0.0.1:1")
    assert zk_client.get_children("/a/b/c") == ["10.0.0.1:1"]
    # parents are persistent
    assert zk_client.exists("/a/b/c").ephemeralOwner == 0


def test_register_at_root(zk, zk_client):
    reg = zk.register_server("/", "10.0.0.1:2")
    assert reg.paths == ("/10.0.0.1:2",)
    assert "10.0.0.1:2" in zk_client.get_children("/")


def test_unregister_and_context_manager(zk, zk_client):
    reg = zk.register_server("/u", "10.0.0.1:3")
    assert zk_client.exists("/u/10.0.0.1:3")
    reg.unregister()
    assert zk_client.exists("/u/10.0.0.1:3") is None
    reg.unregister()  # idempotent
    with zk.register_server("/u", "10.0.0.1:4") as reg2:
        assert zk_client.get_children("/u") == ["10.0.0.1:4"]
    assert zk_client.get_children("/u") == []
    assert "unregistered" in repr(reg2)


@pytest.mark.parametrize("registered, removed", [
    ("10.0.0.1:5", "10.0.0.1:5"),
    (("10.0.0.1", 5), "10.0.0.1:5"),
    ("10.0.0.1:5", ("10.0.0.1", 5)),
    ("[::1]:5", ("::1", 5)),
])
def test_zk_unregister_accepts_every_address_form(zk, zk_client, registered, removed):
    zk.register_server("/zu", registered)
    zk.register_server("/zu", "10.9.9.9:9")  # another one stays
    zk.unregister("/zu", removed)
    assert zk_client.get_children("/zu") == ["10.9.9.9:9"]


def test_close_removes_ephemerals_at_once(zk_connection_string, zk_client):
    zk = zkservices.ZooKeeper(zk_connection_string)
    reg = zk.register_server("/gone", "10.0.0.1:6")
    assert zk_client.exists(reg.paths[0]) is not None
    zk.close()
    # no sleep: the session is closed on the server before close() returns
    assert zk_client.exists(reg.paths[0]) is None


def test_registering_twice_keeps_one_node_with_latest_data(zk, zk_client):
    zk.register_server("/twice", "10.0.0.1:7", v=1)
    zk.register_server("/twice", "10.0.0.1:7", v=2)
    assert zk_client.get_children("/twice") == ["10.0.0.1:7"]
    assert props(zk_client, "/twice/10.0.0.1:7")["v"] == 2


def test_register_replaces_a_node_of_another_session(zk, zk_connection_string, zk_client):
    other = kazoo_client(zk_connection_string)
    try:
        other.create("/stale/10.0.0.1:8", b'{"stale":true}', ephemeral=True, makepath=True)
        reg = zk.register_server("/stale", "10.0.0.1:8", fresh=True)
        data, stat = zk_client.get(reg.paths[0])
        assert stat.ephemeralOwner == zk.client.client_id[0]
        assert b"fresh" in data and b"stale" not in data
    finally:
        stop(other)
    # the other session ending does not take our node with it
    assert zk_client.exists(reg.paths[0]) is not None


def test_registration_is_logged_naming_host_port(zk, caplog):
    caplog.set_level(logging.INFO, logger="zkservices")
    zk.register_server("/logged", "10.0.0.1:11")
    assert any(r.name.startswith("zkservices.") and "10.0.0.1:11" in r.getMessage() for r in caplog.records)


def test_bad_addresses_are_value_errors(zk, zk_client):
    for bad in ["no-port", "host:notaport", "host:0", "host:70000", "::1:80", ("a", "b", "c"), 8080]:
        with pytest.raises(ValueError):
            zk.register_server("/bad-address", bad)
    assert zk_client.exists("/bad-address") is None


def test_register_through_a_link(zk, zk_client):
    zk_client.create("/real")
    zk.ln("/real", "/alias")
    reg = zk.register_server("/alias", "10.0.0.1:12")
    assert reg.paths == ("/real/10.0.0.1:12",)
    assert zk_client.get_children("/real") == ["10.0.0.1:12"]
    zk.unregister("/alias", "10.0.0.1:12")
    assert zk_client.get_children("/real") == []


def test_register_through_a_dangling_link_creates_its_target(zk, zk_client):
    zk.ln("/services/real", "/alias")  # the target does not exist yet
    zk_client.create("/base")
    zk.ln("../services/other", "/base/rel")  # relative, dangling too
    reg = zk.register_server("/alias/providers", "10.0.0.1:13")
    assert reg.paths == ("/services/real/providers/10.0.0.1:13",)
    reg2 = zk.register_server("/base/rel", "10.0.0.1:14")
    assert reg2.paths == ("/services/other/10.0.0.1:14",)
    # the links were followed, not shadowed by new real nodes
    assert zk_client.exists("/alias") is None and zk_client.exists("/base/rel") is None
    assert zk.resolve("/alias/providers/10.0.0.1:13") == reg.paths[0]


def test_register_through_a_link_loop_raises(zk, zk_client):
    zk_client.create("/loop", b'{"a ->":"b","b ->":"a"}')
    with pytest.raises(zkservices.LinkLoop):
        zk.register_server("/loop/a", "10.0.0.1:15")
    assert zk_client.get_children("/loop") == []


def test_unregister_after_close_is_a_no_op(zk_connection_string, zk_client):
    zk = zkservices.ZooKeeper(zk_connection_string)
    reg = zk.register_server("/svc/providers", "10.0.0.1:80")
    zk.close()
    reg.unregister()
    assert not reg.active and zk_client.get_children("/svc/providers") == []


def test_restored_registrations_come_back_all_at_once(zk, zk_connection_string):
    """After an expiry, a service's registrations are restored in one transaction: a
    watcher in another session sees all of them or none, never a partial set."""
    from kazoo.recipe.watchers import ChildrenWatch

    from zkservices.testing import expire_session

    from _util import wait_for

    regs = [zk.register_server("/svc/providers", f"10.0.0.{i}:80", weight=i) for i in range(10)]
    seen = []
    other = kazoo_client(zk_connection_string)
    try:
        ChildrenWatch(other, "/svc/providers", lambda names: seen.append(len(names)))
        wait_for(lambda: seen and seen[-1] == 10, what="the watcher sees all ten")
        for _ in range(4):
            expire_session(zk)
            wait_for(lambda: seen[-1] == 10, what="all ten back")
        assert set(seen) <= {0, 10}, f"a partial set was visible: {seen}"
        assert seen.count(0) >= 1  # the expiries were seen at all
    finally:
        stop(other)
    for reg in regs:
        reg.unregister()


def test_many_registrations_restored_and_still_tracked_after_expiry(zk, zk_client):
    regs = [zk.register_server("/fleet", ("10.0.0.9", 2000 + i), i=i) for i in range(200)]
    expire_session(zk)
    session = zk.core.session_id
    assert sorted(zk_client.get_children("/fleet")) == sorted(r.names[0] for r in regs)
    assert all(zk_client.exists(r.paths[0]).ephemeralOwner == session for r in regs)
    # an operator's change after the restore is followed: the next restore keeps it
    path = regs[7].paths[0]
    zk_client.set(path, b'{"host":"10.0.0.9","port":2007,"i":"changed"}')
    deadline = time.monotonic() + 30
    while zk.registrar.data_of(path) != b'{"host":"10.0.0.9","port":2007,"i":"changed"}':
        assert time.monotonic() < deadline, "the registrar never saw the operator's change"
        time.sleep(0.05)
    expire_session(zk)
    assert props(zk_client, path)["i"] == "changed"
    assert props(zk_client, regs[8].paths[0])["i"] == 8
    assert len(zk_client.get_children("/fleet")) == 200
