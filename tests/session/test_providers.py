"""zk.providers(path): a self-updating mapping of providers in every format, on a real server."""

from __future__ import annotations

import json
import logging

import pytest

import zkservices
from zkservices.testing import expire_session

from _util import wait_for

AURORA = (
    b'{"serviceEndpoint":{"host":"10.0.0.3","port":31337},'
    b'"additionalEndpoints":{"http":{"host":"10.0.0.3","port":8080}},"status":"ALIVE","shard":0}'
)
CURATOR = (
    b'{"name":"mixed","id":"c1","address":"10.0.0.7","port":8080,"sslPort":null,'
    b'"payload":{"@class":"java.util.LinkedHashMap","weight":3},"registrationTimeUTC":1796110968522,'
    b'"serviceType":"DYNAMIC","uriSpec":null}'
)


def _warnings(caplog, name):
    return [r for r in caplog.records if r.levelno == logging.WARNING and name in r.getMessage()]


def test_mixed_directory(zk, zk_client, caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.providers")
    zk.register_server("/svc/mixed", "10.0.0.1:80", weight=1)
    zk_client.create("/svc/mixed/c1", CURATOR)
    zk_client.create("/svc/mixed/member_0000000001", AURORA)
    zk_client.create("/svc/mixed/garbage", b"not a provider {")
    view = zk.providers("/svc/mixed")
    assert isinstance(view, zkservices.Providers)
    assert list(view) == ["10.0.0.1:80", "c1", "member_0000000001"]
    assert {name: p.format for name, p in view.items()} == {
        "10.0.0.1:80": "zkservices", "c1": "curator", "member_0000000001": "serverset"}
    assert view["c1"] == zkservices.Provider("c1", "10.0.0.7", 8080, {"weight": 3}, "curator", True)
    assert view["member_0000000001"].address == "10.0.0.3:31337"
    assert "garbage" not in view
    assert len(_warnings(caplog, "/svc/mixed/garbage")) == 1

    calls = []

    @view
    def changed(v, change):
        calls.append((sorted(v), change))

    assert calls == [(sorted(view), zkservices.ProvidersChange(frozenset(view), frozenset(), frozenset()))]
    # a repaired node joins
    zk_client.set("/svc/mixed/garbage", b'{"host":"10.0.0.9","port":9}')
    # (the view's content changes before its callbacks are called: wait for the call)
    wait_for(lambda: "garbage" in view and "garbage" in calls[-1][0], what="the repaired node joins")
    assert calls[-1][1].added == {"garbage"}
    # a good node that breaks leaves, with one warning for that version
    zk_client.set("/svc/mixed/c1", b"")
    wait_for(lambda: "c1" not in view and "c1" not in calls[-1][0], what="the broken node leaves")
    assert calls[-1][1].removed == {"c1"}
    assert len(_warnings(caplog, "/svc/mixed/c1")) == 1
    # a changed record is a change
    zk_client.set("/svc/mixed/member_0000000001", AURORA.replace(b"ALIVE", b"DEAD"))
    wait_for(lambda: not view["member_0000000001"].enabled and calls[-1][1].changed,
             what="the member is disabled")
    assert calls[-1][1].changed == {"member_0000000001"}
    n = len(calls)
    zk_client.set("/svc/mixed/member_0000000001", AURORA.replace(b"ALIVE", b"DEAD"))  # same data: no change
    zk.set("/svc/mixed", b"")  # settles zk's views
    wait_for(lambda: zk_client.exists("/svc/mixed/member_0000000001").version == 2)
    zk_client.create("/svc/mixed/10.0.0.2:80", b"")
    wait_for(lambda: "10.0.0.2:80" in view and "10.0.0.2:80" in calls[-1][0])
    assert len(calls) == n + 1
    view.close()


def test_warning_once_per_version(zk, zk_client, caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.providers")
    zk_client.create("/svc/w/bad", b"x", makepath=True)
    view = zk.providers("/svc/w")
    zk_client.create("/svc/w/10.0.0.1:1", b"")
    wait_for(lambda: len(view) == 1)
    assert len(_warnings(caplog, "/svc/w/bad")) == 1
    zk_client.set("/svc/w/bad", b"y")
    wait_for(lambda: len(_warnings(caplog, "/svc/w/bad")) == 2, what="a warning for the new version")
    assert list(view) == ["10.0.0.1:1"]


def test_disabled_providers(zk, zk_client):
    value = json.loads(CURATOR)
    value["enabled"] = False
    zk_client.create("/svc/d/c1", json.dumps(value).encode(), makepath=True)
    zk_client.create("/svc/d/member_0000000001", AURORA.replace(b"ALIVE", b"STOPPING"))
    view = zk.providers("/svc/d")
    assert [p.enabled for p in view.values()] == [False, False]


def test_follows_registrations_across_expiry(zk, zk_client):
    curator = zk.register_server("/svc/e", "10.0.0.7:8080", provider_format="curator", weight=1)
    member = zk.register_server("/svc/e", "10.0.0.3:80", provider_format="serverset", shard=0)
    view = zk.providers("/svc/e")
    assert set(view) == set(curator.names + member.names)
    old_member = member.names[0]
    expire_session(zk)
    assert zk.wait_recovered(30)
    wait_for(lambda: set(view) == set(curator.names + member.names), what="the view follows the new member")
    assert member.names[0] != old_member and old_member not in view
    assert view[curator.names[0]].properties == {"weight": 1}
    assert view[member.names[0]].properties["shard"] == 0


def test_deleted_node_and_missing_path(zk, zk_client):
    with pytest.raises(zkservices.NoNode):
        zk.providers("/svc/none")
    zk_client.create("/svc/gone/10.0.0.1:1", b"", makepath=True)
    view = zk.providers("/svc/gone")
    calls = []
    view(lambda *args: calls.append(args))
    zk_client.delete("/svc/gone", recursive=True)
    # the view is marked deleted before its callbacks are called: wait for the call
    wait_for(lambda: view.deleted and calls[-1] == (), what="the view sees the deletion")
    assert len(view) == 0 and calls[-1] == ()
    zk_client.create("/svc/gone/10.0.0.2:2", b"", makepath=True)
    wait_for(lambda: list(view) == ["10.0.0.2:2"], what="the node comes back")
    assert "Providers /svc/gone" in repr(view)


def test_missing_ok_waits_for_the_node_and_for_a_dangling_link(zk, zk_client):
    view = zk.providers("/svc/later", missing_ok=True)
    assert view.deleted and len(view) == 0 and "deleted" in repr(view)
    calls = []
    view(lambda *args: calls.append(args))
    zk_client.create("/svc/later/10.0.0.1:1", b"", makepath=True)
    wait_for(lambda: list(view) == ["10.0.0.1:1"] and not view.deleted and len(calls[-1]) == 2,
             what="the node created")
    # a link whose target does not exist yet: followed once the target is created
    zk_client.create("/target", b"{}")
    zk.ln("/target/providers", "/svc/alias")
    linked = zk.children("/svc/alias", missing_ok=True)
    properties = zk.properties("/svc/alias", missing_ok=True)
    assert linked.deleted and properties.deleted and dict(properties) == {}
    zk_client.create("/target/providers", b'{"a": 1}')
    zk_client.create("/target/providers/10.0.0.2:2", b"")
    wait_for(lambda: list(linked) == ["10.0.0.2:2"] and linked.real_path == "/target/providers",
             what="the view behind the link")
    wait_for(lambda: dict(properties) == {"a": 1}, what="the properties behind the link")
    with pytest.raises(zkservices.NoNode):  # without missing_ok, as before
        zk.properties("/svc/none")
    for v in (view, linked, properties):
        v.close()


def test_warning_says_why_a_node_is_left_out(zk, zk_client, caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.providers")
    zk_client.create("/svc/why/10.0.0.1:80", b'{"host": "10.0.0.1", "port": 70000}', makepath=True)
    zk_client.create("/svc/why/x", b'{"host": ["x"], "port": 80}')
    zk_client.create("/svc/why/y", b"junk")
    view = zk.providers("/svc/why")
    assert len(view) == 0
    messages = sorted(r.getMessage() for r in caplog.records
                      if r.levelno == logging.WARNING and r.name.startswith("zkservices"))
    assert [m.split(" (data ")[0] for m in messages] == [
        "providers /svc/why: /svc/why/10.0.0.1:80 left out: port 70000 is not between 1 and 65535",
        "providers /svc/why: /svc/why/x left out: host ['x'] is not a hostname or IP address",
        "providers /svc/why: /svc/why/y left out: not a provider node any format can read",
    ]
    view.close()
