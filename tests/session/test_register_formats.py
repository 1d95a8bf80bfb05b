"""register_server(provider_format=...): Curator instances and ServerSet members on a real server."""

from __future__ import annotations

import json
import threading
import uuid
from types import SimpleNamespace

import pytest
from kazoo.exceptions import ConnectionLoss

import zkservices
from zkservices._formats import CuratorFormat, ServerSetFormat
from zkservices._session.members import create_member
from zkservices.testing import expire_session

from _util import lose_first_read_below, props, wait_for


def _owner(client, path):
    stat = client.exists(path)
    return stat.ephemeralOwner if stat else None


# -- Curator ---------------------------------------------------------------------


def test_curator_instance(zk, zk_client):
    reg = zk.register_server("/services/orders", "10.0.0.7:8080", provider_format="curator", weight=3, zone="eu")
    (instance_id,) = reg.names
    assert str(uuid.UUID(instance_id)) == instance_id
    assert reg.paths == (f"/services/orders/{instance_id}",) and reg.format == "curator"
    raw, stat = zk_client.get(reg.paths[0])
    assert stat.ephemeralOwner == zk.client.client_id[0]
    value = json.loads(raw)
    assert list(value) == ["name", "id", "address", "port", "sslPort", "payload", "registrationTimeUTC",
                           "serviceType", "uriSpec"]
    assert value["name"] == "orders" and value["id"] == instance_id
    assert (value["address"], value["port"], value["serviceType"]) == ("10.0.0.7", 8080, "DYNAMIC")
    assert value["payload"] == {"@class": "java.util.LinkedHashMap", "weight": 3, "zone": "eu"}  # no "format"
    assert b" " not in raw


def test_curator_same_id_after_expiry(zk, zk_client):
    options = CuratorFormat(instance_id="orders-1", ssl_port=8443, uri_spec="{scheme}://{address}:{port}")
    reg = zk.register_server("/services/orders", ("10.0.0.7", 8080), provider_format=options, weight=1)
    assert reg.paths == ("/services/orders/orders-1",)
    before = zk_client.get(reg.paths[0])[0]
    new = expire_session(zk)
    wait_for(lambda: _owner(zk_client, reg.paths[0]) == new, what="the same ID owned by the new session")
    assert zk_client.get(reg.paths[0])[0] == before
    assert zk_client.get_children("/services/orders") == ["orders-1"]
    reg.unregister()
    assert zk_client.get_children("/services/orders") == []


def test_curator_static_is_persistent(zk, zk_client, zk_connection_string):
    other = zkservices.ZooKeeper(zk_connection_string)
    reg = other.register_server("/services/web", "10.0.0.8:80", provider_format=CuratorFormat(service_type="STATIC",
                                                                                     instance_id="web-1"))
    assert zk_client.exists(reg.paths[0]).ephemeralOwner == 0
    other.close()  # a STATIC instance outlives its session
    assert json.loads(zk_client.get("/services/web/web-1")[0])["serviceType"] == "STATIC"
    again = zk.register_server("/services/web", "10.0.0.8:80", provider_format=CuratorFormat(service_type="STATIC",
                                                                                    instance_id="web-1"))
    again.unregister()
    assert zk_client.get_children("/services/web") == []


def test_curator_replaces_an_existing_id(zk, zk_client):
    zk_client.create("/services/api/api-1", b"old", makepath=True)
    reg = zk.register_server("/services/api", "10.0.0.9:80", provider_format=CuratorFormat(instance_id="api-1"))
    raw, stat = zk_client.get(reg.paths[0])
    assert json.loads(raw)["id"] == "api-1" and stat.ephemeralOwner == zk.client.client_id[0]


def test_curator_instance_id_needs_one_host(zk, zk_client):
    with pytest.raises(ValueError, match="instance_id"):
        zk.register_server("/services/x", ":8080", provider_format=CuratorFormat(instance_id="x-1"))
    assert zk_client.exists("/services/x") is None


# -- ServerSet -------------------------------------------------------------------


def test_serverset_member(zk, zk_client):
    options = ServerSetFormat(additional_endpoints={"http": 8081})
    reg = zk.register_server("/aurora/jobs/web", "10.0.0.3:31337", provider_format=options, shard=0, zone="eu", weight=2)
    (name,) = reg.names
    assert name.startswith("member_") and len(name) == len("member_") + 10
    assert reg.paths == (f"/aurora/jobs/web/{name}",) and reg.format == "serverset"
    raw, stat = zk_client.get(reg.paths[0])
    assert stat.ephemeralOwner == zk.client.client_id[0]
    assert raw == (b'{"serviceEndpoint":{"host":"10.0.0.3","port":31337},'
                   b'"additionalEndpoints":{"http":{"host":"10.0.0.3","port":8081}},"status":"ALIVE","shard":0,'
                   b'"metadata":{"zone":"eu","weight":"2"}}')


def test_serverset_member_after_expiry_is_one_new_member(zk, zk_client):
    reg = zk.register_server("/ss/web", "10.0.0.3:80", provider_format="serverset", shard=1)
    old_name, old_data = reg.names[0], zk_client.get(reg.paths[0])[0]
    for _ in range(2):
        new = expire_session(zk)
        assert zk.wait_recovered(30)
        members = zk_client.get_children("/ss/web")
        assert len(members) == 1 and members[0] != old_name
        assert reg.names == (members[0],) and reg.paths == (f"/ss/web/{members[0]}",)
        assert _owner(zk_client, reg.paths[0]) == new
        assert zk_client.get(reg.paths[0])[0] == old_data
        old_name = members[0]
    zk.register_server("/ss/web", "10.0.0.4:80", provider_format="serverset")
    assert len(zk_client.get_children("/ss/web")) == 2
    reg.unregister()
    assert len(zk_client.get_children("/ss/web")) == 1
    assert json.loads(zk_client.get("/ss/web/" + zk_client.get_children("/ss/web")[0])[0])[
        "serviceEndpoint"]["host"] == "10.0.0.4"


def test_serverset_unregister_by_address(zk, zk_client):
    zk.register_server("/ss/api", "10.0.0.5:80", provider_format="serverset")
    zk.unregister("/ss/api", "10.0.0.5:80")
    assert zk_client.get_children("/ss/api") == []


def test_lost_create_is_adopted_not_repeated(zk, zk_client):
    """A create whose reply was lost: the next attempt finds the member and keeps only one."""
    data = b'{"serviceEndpoint":{"host":"h","port":1},"additionalEndpoints":{},"status":"ALIVE"}'
    zk.ensure_path("/ss/lost")
    for _ in range(2):  # two "lost" creates: one is adopted, the other deleted
        zk.client.create("/ss/lost/member_", data, ephemeral=True, sequence=True)
    zk_client.create("/ss/lost/member_", data, ephemeral=True, sequence=True)  # another session's: left alone
    node = SimpleNamespace(prefix="/ss/lost/member_", data=data, acl=None, path=None, lock=threading.Lock())
    path = create_member(zk.core, node, zk.core.retry, uncertain=True, owned=set)
    mine = [n for n in zk_client.get_children("/ss/lost") if _owner(zk_client, f"/ss/lost/{n}") == zk.core.session_id]
    assert [f"/ss/lost/{n}" for n in mine] == [path]
    assert len(zk_client.get_children("/ss/lost")) == 2


# -- the format keyword ------------------------------------------------------------


def test_format_is_not_a_property(zk, zk_client):
    reg = zk.register_server("/plain", "10.0.0.1:80", provider_format="zkservices", weight=1)
    assert "format" not in props(zk_client, reg.paths[0])
    assert reg.format == "zkservices"


def test_format_is_the_deprecated_spelling_of_provider_format(zk, zk_client):
    with pytest.warns(DeprecationWarning, match="format= is deprecated; use provider_format=") as caught:
        reg = zk.register_server("/old", "10.0.0.1:80", format="curator", weight=1)
    assert caught[0].filename == __file__  # the warning points at the caller
    assert reg.format == "curator" and "format" not in props(zk_client, reg.paths[0])["payload"]
    with pytest.raises(TypeError, match="provider_format= only"):
        zk.register_server("/old", "10.0.0.2:80", provider_format="curator", format="curator")
    assert zk_client.get_children("/old") == list(reg.names)


@pytest.mark.parametrize("bad", [
    dict(provider_format="nerve"), dict(provider_format="curator", **{"@class": "x"}),
    dict(provider_format="serverset", shard="a"), dict(provider_format=CuratorFormat(), f=float("nan")),
])
def test_bad_format_or_properties_write_nothing(zk, zk_client, bad):
    with pytest.raises(ValueError):
        zk.register_server("/nothing/here", "10.0.0.1:80", **bad)
    assert zk_client.exists("/nothing") is None


def test_zkservices_node_in_a_curator_directory_refuses_curator_fields(zk, zk_client):
    zk.register_server("/services/mixed", "10.0.0.7:8080", provider_format="curator")
    with pytest.raises(ValueError, match="Curator"):
        zk.register_server("/services/mixed", "10.0.0.8:80", enabled="yes")
    assert len(zk_client.get_children("/services/mixed")) == 1
    zk.register_server("/services/mixed", "10.0.0.8:80", weight=1)  # other properties are fine
    zk.register_server("/elsewhere", "10.0.0.8:80", enabled="yes")  # and so is a non-Curator directory


def test_curator_directory_check_waits_through_a_lost_read(zk, zk_client, zk_server, monkeypatch):
    # the check's read of a sibling fails with ConnectionLoss (the connection dropped
    # under it): the check reads again once reconnected and still refuses
    zk.register_server("/services/mixed", "10.0.0.7:8080", provider_format="curator")
    lost = lose_first_read_below(monkeypatch, zk, zk_server, "/services/mixed")
    with pytest.raises(ValueError, match="Curator"):
        zk.register_server("/services/mixed", "10.0.0.8:80", enabled="yes")
    assert len(lost) == 1 and isinstance(lost[0].exception, ConnectionLoss)
    assert len(zk_client.get_children("/services/mixed")) == 1
    # and properties that clash with nothing are registered through the same fault
    zk.register_server("/services/plain", "10.0.0.9:80", provider_format="serverset")
    lost = lose_first_read_below(monkeypatch, zk, zk_server, "/services/plain")
    zk.register_server("/services/plain", "10.0.0.8:80", enabled="yes")
    assert len(lost) == 1 and isinstance(lost[0].exception, ConnectionLoss)
    assert "10.0.0.8:80" in zk_client.get_children("/services/plain")
