"""Server sets against a real ZooKeeper: callbacks, the shrink guard, session expiry, snapshots."""

from __future__ import annotations

import json
import threading

import pytest

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from zkservices import ServerSet, ZooKeeper
from zkservices.testing import expire_session

from _util import wait_for


WAIT = 30.0


def provider(client: KazooClient, service: str, node: str, ephemeral: bool = True, **data) -> str:
    """Create a provider node the way Nerve-style registrars write them."""
    host, _, port = node.rpartition(":")
    body = {"host": host, "port": int(port), **data}
    return client.create(f"{service}/providers/{node}", json.dumps(body).encode(), ephemeral=ephemeral, makepath=True)


def test_server_set_view_callbacks_and_repr(zk):
    zk.create("/svc", b'{"balance":"roundrobin"}', makepath=True)
    seen = []
    with ServerSet(zk, "/svc") as servers:
        servers(lambda s: seen.append(sorted(s)))
        assert seen == [[]] and servers.ready and not servers.stale and servers.holding is None
        reg = zk.register_server("/svc/providers", "10.0.0.1:80", weight=1)
        wait_for(lambda: seen[-1] == ["10.0.0.1:80"], WAIT, "the callback to see the join")
        assert servers.providers["10.0.0.1:80"].properties["weight"] == 1
        assert servers.properties == {"balance": "roundrobin"}
        assert "10.0.0.1:80" in servers and len(servers) == 1
        assert repr(servers).startswith("<ServerSet /svc 1 provider(s)")
        # the last provider leaves: by default the shrink guard keeps it (1 -> 0 is below half)
        reg.unregister()
        wait_for(lambda: servers.holding == "shrink guard: 0 of 1 provider(s)", WAIT, "the guard to hold")
        assert servers.stale and "stale (shrink guard" in repr(servers)
        # the callback hears that the set went stale (on the worker, after the guard held)
        wait_for(lambda: len(seen) == 3, WAIT, "the callback to hear the set went stale")
        assert seen[-1] == ["10.0.0.1:80"]
        calls = len(seen)
        zk.register_server("/svc/providers", "10.0.0.3:80")
        wait_for(lambda: seen[-1] == ["10.0.0.3:80"], WAIT, "the callback to see the recovered set")
        assert len(seen) == calls + 1 and not servers.stale
    assert servers.closed and "closed" in repr(servers)
    with ServerSet(zk, "/svc", min_fraction=0) as unguarded:
        zk.unregister("/svc/providers", "10.0.0.3:80")
        wait_for(lambda: len(unguarded) == 0 and not unguarded.stale, WAIT, "an unguarded set to empty")


def test_session_expiry_rearms_every_watch(zk, zk_client):
    """After the ServerSet's own session expires, joins, leaves and provider data
    changes are all seen again (kazoo drops every watch with the session)."""
    zk_client.create("/svc", b'{"balance":"first"}')
    provider(zk_client, "/svc", "10.0.0.1:80", ephemeral=False, weight=1)
    with ServerSet(zk, "/svc", min_fraction=0) as servers:
        assert servers.providers["10.0.0.1:80"].properties["weight"] == 1
        expire_session(zk)
        zk_client.set("/svc/providers/10.0.0.1:80", json.dumps({"host": "10.0.0.1", "port": 80, "weight": 5}).encode())
        wait_for(lambda: servers.providers["10.0.0.1:80"].properties["weight"] == 5, WAIT, "the data change after expiry")
        provider(zk_client, "/svc", "10.0.0.2:80", ephemeral=False)
        zk_client.set("/svc", b'{"balance":"leastconn"}')
        wait_for(lambda: sorted(servers) == ["10.0.0.1:80", "10.0.0.2:80"], WAIT, "the join after expiry")
        wait_for(lambda: servers.properties == {"balance": "leastconn"}, WAIT, "the property change after expiry")
        zk_client.delete("/svc/providers/10.0.0.1:80")
        wait_for(lambda: sorted(servers) == ["10.0.0.2:80"] and not servers.stale, WAIT, "the leave after expiry")


def test_snapshot_is_the_guards_baseline(zk_client, zk_connection_string, tmp_path):
    """ZooKeeper comes back empty (e.g. restored without data): a fresh start
    with a snapshot of 3 providers keeps serving them instead of nothing."""
    snapshot = tmp_path / "snap.json"
    zk_client.create("/svc/providers", makepath=True)
    for i in range(1, 4):
        provider(zk_client, "/svc", f"10.0.0.{i}:80", ephemeral=False)
    with ServerSet(zk_connection_string, "/svc", snapshot=snapshot) as servers:
        assert sorted(servers) == ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
    wait_for(lambda: snapshot.exists(), WAIT, "the snapshot")
    zk_client.delete("/svc", recursive=True)
    with ServerSet(zk_connection_string, "/svc", snapshot=snapshot) as servers:
        wait_for(lambda: servers.holding == "shrink guard: 0 of 3 provider(s)", WAIT, "the guard to hold")
        assert len(servers) == 3 and servers.stale
    with ServerSet(zk_connection_string, "/svc", snapshot=snapshot, force=True) as servers:
        assert len(servers) == 0 and not servers.stale


def threads_named(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_lifecycle_start_close_and_threads(zk, zk_connection_string):
    zk.create("/life/providers", makepath=True)
    zk.register_server("/life/providers", "10.0.0.1:80")
    latent = ServerSet(zk, "/life", start=False)
    assert not latent.started and not latent.ready and "not started" in repr(latent)
    assert threads_named("zkservices-serverset /life") == []
    with latent as servers:  # a with block starts it (and waits for data)
        assert servers.started and sorted(servers) == ["10.0.0.1:80"]
        with pytest.raises(RuntimeError):
            servers.start()
    assert latent.closed
    wait_for(lambda: threads_named("zkservices-serverset /life") == [], WAIT, "the ServerSet's thread to end")
    # with a connection string: its own session, closed with it
    own = ServerSet(zk_connection_string, "/life")
    assert sorted(own) == ["10.0.0.1:80"]
    own.close()
    wait_for(lambda: threads_named("zkservices-serverset /life") == [] and threads_named("zkservices-connect") == [],
             WAIT, "every thread of the ServerSet to end")
    latent_closed = ServerSet(zk, "/life", start=False)
    latent_closed.close()
    with pytest.raises(RuntimeError):
        latent_closed.start()


# -- the session of a connection string: auth and TLS -------------------------

ALICE = ("digest", "alice:secret")


def test_auth_reads_providers_behind_a_digest_acl(zk_connection_string, zk_client):
    alice_only = [make_digest_acl("alice", "secret", all=True)]
    zk_client.create("/svc", b'{"balance":"roundrobin"}')
    with ZooKeeper(zk_connection_string, auth=[ALICE]) as owner:
        owner.client.create("/svc/providers", acl=alice_only)
        owner.register_server("/svc/providers", "10.0.0.1:80", acl=alice_only, weight=2)
        with pytest.raises(NoAuthError):  # the providers are readable with the auth only
            zk_client.get_children("/svc/providers")
        with ServerSet(zk_connection_string, "/svc", auth=[ALICE], timeout=WAIT) as servers:
            assert servers.ready and sorted(servers) == ["10.0.0.1:80"]
            assert servers.providers["10.0.0.1:80"].properties["weight"] == 2
            assert servers.properties == {"balance": "roundrobin"}
            owner.register_server("/svc/providers", "10.0.0.2:80", acl=alice_only)
            wait_for(lambda: sorted(servers) == ["10.0.0.1:80", "10.0.0.2:80"], WAIT, "the join behind the ACL")


def test_tls_session_for_a_connection_string(zk_tls, zk_tls_server):
    chroot = zk_tls.connection_string[zk_tls.connection_string.index("/"):]
    zk_tls.register_server("/svc/providers", "10.0.0.1:80", weight=3)
    secure = zk_tls_server.secure_connection_string + chroot  # the TLS port only: plain TCP gets no answer
    with ServerSet(secure, "/svc", tls=zk_tls_server.tls, timeout=WAIT) as servers:
        assert servers.ready and sorted(servers) == ["10.0.0.1:80"]
        assert servers.providers["10.0.0.1:80"].properties["weight"] == 3
        zk_tls.register_server("/svc/providers", "10.0.0.2:80")
        wait_for(lambda: len(servers) == 2, WAIT, "the join over TLS")


@pytest.mark.parametrize("option", [{"auth": [ALICE]}, {"tls": True}])
def test_auth_and_tls_need_a_connection_string(zk, option):
    with pytest.raises(ValueError, match="connection string"):
        ServerSet(zk, "/svc", start=False, **option)


# -- the vocabulary: service, providers_path; the deprecated spellings ----------------


def test_service_and_its_deprecated_spellings(zk):
    zk.register_server("/svc/providers", "10.0.0.1:80")
    with ServerSet(zk, "/svc") as servers:
        assert servers.service == "/svc" and servers.providers_path == "/svc/providers"
        with pytest.warns(DeprecationWarning, match=r"ServerSet.path is deprecated; use service") as caught:
            assert servers.path == "/svc"
        assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="service_path= is deprecated; use service=") as caught:
        old = ServerSet(zk, service_path="/svc", providers=".", start=False)
    assert caught[0].filename == __file__
    assert old.service == "/svc" and old.providers_path == "/svc"
    with pytest.raises(TypeError, match="service= only"):
        ServerSet(zk, "/svc", service_path="/svc", start=False)
    with pytest.raises(TypeError, match="needs the service node"):
        ServerSet(zk, start=False)


# -- the session's views: nodes missing, links dangling, no watches of its own ---------


def test_service_behind_a_dangling_link_is_followed_once_it_resolves(zk, zk_client):
    """/svc is a link to /real/svc, which does not exist yet: empty, then followed."""
    zk_client.create("/real", b"{}")
    zk.ln("/real/svc", "/svc")
    seen = []
    with ServerSet(zk, "/svc", min_fraction=0) as servers:
        servers(lambda s: seen.append(sorted(s)))
        assert servers.ready and len(servers) == 0 and servers.properties == {} and not servers.stale
        zk_client.create("/real/svc", b'{"balance":"first"}')
        provider(zk_client, "/real/svc", "10.0.0.1:80", weight=4)
        wait_for(lambda: seen[-1] == ["10.0.0.1:80"], WAIT, "the providers behind the link once it resolves")
        # the properties come through their own view: they may follow the providers by a turn
        wait_for(lambda: servers.properties == {"balance": "first"}, WAIT, "the target's properties")
        assert servers.providers["10.0.0.1:80"].properties["weight"] == 4
        # the target goes and the link is re-targeted: the set follows the new target
        zk_client.create("/other/providers/10.0.0.2:80", b'{"host":"10.0.0.2","port":80}', makepath=True)
        zk_client.set("/other", b'{"balance":"leastconn"}')
        zk_client.delete("/real/svc", recursive=True)
        zk.ln("/other", "/svc")
        wait_for(lambda: seen[-1] == ["10.0.0.2:80"], WAIT, "the set behind the re-targeted link")
        wait_for(lambda: servers.properties == {"balance": "leastconn"}, WAIT, "the new target's properties")


def test_service_deleted_and_created_again(zk, zk_client):
    provider(zk_client, "/svc", "10.0.0.1:80", ephemeral=False)
    with ServerSet(zk, "/svc", min_fraction=0) as servers:
        assert sorted(servers) == ["10.0.0.1:80"]
        zk_client.delete("/svc", recursive=True)
        wait_for(lambda: len(servers) == 0, WAIT, "the set to empty with the service gone")
        provider(zk_client, "/svc", "10.0.0.3:80", ephemeral=False)
        wait_for(lambda: sorted(servers) == ["10.0.0.3:80"], WAIT, "the service created again")


def test_providers_are_the_views_provider_records(zk, zk_client):
    """ServerSet.providers holds the very records zk.providers() gives, less the disabled ones."""
    zk.register_server("/svc/providers", "10.0.0.1:80", weight=2)
    zk.register_server("/svc/providers", "10.0.0.2:80", provider_format="serverset")
    view = zk.providers("/svc/providers")
    with ServerSet(zk, "/svc") as servers:
        assert servers.providers == dict(view) and len(servers) == 2
        member = next(name for name in view if name.startswith("member_"))
        data = json.loads(zk_client.get(f"/svc/providers/{member}")[0])
        zk_client.set(f"/svc/providers/{member}", json.dumps({**data, "status": "STOPPING"}).encode())
        wait_for(lambda: member not in servers, WAIT, "the disabled member to leave")
        # the server set reads with a view of its own: the test's view may follow a moment later
        wait_for(lambda: member in view and not view[member].enabled, WAIT, "the view to see the member disabled")
        assert servers.providers == {"10.0.0.1:80": view["10.0.0.1:80"]}
    view.close()
