"""Both fronts unregister alike when a delete fails: the registration leaves the
session's table at once (it is never restored), every node is tried -- the ones whose
delete succeeds are gone -- and the first failure is raised, in the blocking and the
awaiting API, by address and by handle, against a real server."""

from __future__ import annotations

import asyncio

import pytest
from kazoo.exceptions import NotEmptyError
from kazoo.security import OPEN_ACL_UNSAFE, make_acl

import zkservices
import zkservices.aio
from zkservices import CuratorFormat
from zkservices._session import registrar as registrar_module, registration as registration_module

HOSTS = ["10.0.0.1", "10.0.0.2"]
SERVICE = "/svc/web"


@pytest.fixture
def two_addresses(monkeypatch):
    """This machine has two addresses: registering without a host makes two nodes."""
    monkeypatch.setattr(registration_module, "local_addresses", lambda: list(HOSTS))
    monkeypatch.setattr(registrar_module, "local_addresses", lambda: list(HOSTS))


def _not_empty(zk_client, first):
    """The first node's delete fails: someone gave the (persistent) instance a child."""
    zk_client.create(first + "/child", b"")
    return NotEmptyError, [first]


def _refused(zk_client, first):
    """Every delete below the service is refused by its ACL (no DELETE permission)."""
    zk_client.set_acls(SERVICE, [make_acl("world", "anyone", read=True, write=True, create=True, admin=True)])
    return zkservices.NotAuthorized, None


@pytest.mark.parametrize("how", ["by address", "by handle"])
@pytest.mark.parametrize("front", ["sync", "aio"])
@pytest.mark.parametrize("failure", [_not_empty, _refused], ids=["not empty", "refused by an ACL"])
def test_a_failing_delete_leaves_the_table_and_does_not_stop_the_others(zk, zk_client, two_addresses,
                                                                         failure, front, how):
    reg = zk.register_server(SERVICE, ":8080", provider_format=CuratorFormat(service_type="STATIC"))
    paths = [node.path for node in reg.nodes]
    assert len(paths) == 2 and sorted(zk_client.get_children(SERVICE)) == sorted(p.rpartition("/")[2] for p in paths)
    error, left = failure(zk_client, paths[0])
    if left is None:
        left = paths  # refused: nothing could be deleted
    try:
        with pytest.raises(error) as info:
            if front == "sync":
                zk.unregister(SERVICE, ":8080") if how == "by address" else reg.unregister()
            else:
                azk = zkservices.aio.AsyncZooKeeper(zk)
                call = azk.unregister(SERVICE, ":8080") if how == "by address" else azk.unregister_registration(reg)
                asyncio.run(call)
        if error is zkservices.NotAuthorized:
            assert str(paths[0]) in str(info.value)  # the first failure, naming its node
        assert not reg.active and len(zk.registrar) == 0  # out of the table: never restored
        assert sorted(p for p in paths if zk_client.exists(p)) == sorted(left)
        reg.unregister()  # idempotent: nothing left to do, nothing raised
    finally:
        zk_client.set_acls(SERVICE, OPEN_ACL_UNSAFE)
        zk_client.delete(SERVICE, recursive=True)
