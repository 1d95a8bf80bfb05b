"""ZooKeeperEnsemble: one leader, members that fail on their own, writes through survivors."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from zkservices.testing import ServerError, ZooKeeperEnsemble


def test_ensemble_has_one_leader_and_lists_every_member(zk_ensemble):
    modes = sorted(s.mode for s in zk_ensemble.servers)
    assert modes == ["follower", "follower", "leader"]
    assert zk_ensemble.connection_string.count(",") == 2
    assert zk_ensemble.leader().mode == "leader"
    assert len(zk_ensemble.followers()) == 2 and zk_ensemble.leader() not in zk_ensemble.followers()
    assert list(zk_ensemble) == zk_ensemble.servers
    assert repr(zk_ensemble).startswith("<ZooKeeperEnsemble n=3 [<ZooKeeperServer zk1 ")


def test_kill_leader_writes_succeed_through_survivors(zk_ensemble):
    client = KazooClient(hosts=zk_ensemble.connection_string, timeout=10.0,
                         connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
    client.start(timeout=30)
    try:
        client.ensure_path("/kill-leader")
        old_leader = zk_ensemble.leader()
        old_leader.kill()
        assert not old_leader.running
        new_leader = zk_ensemble.leader()
        assert new_leader is not old_leader
        retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=30)
        retry(client.create, "/kill-leader/after", b"ok")
        assert client.get("/kill-leader/after")[0] == b"ok"
    finally:
        client.stop()
        client.close()
    # the fixture restarts the killed member; check it is possible and it rejoins
    old_leader.start()
    assert old_leader.mode in ("leader", "follower")


@pytest.mark.zookeeper  # needs the server's jars, though it starts nothing
def test_lifecycle_constructed_closed_without_starting():
    ensemble = ZooKeeperEnsemble(2)
    assert not any(s.running for s in ensemble) and len({s.port for s in ensemble}) == 2
    ensemble.close()
    ensemble.close()  # idempotent
    assert ensemble.closed and all(s.closed for s in ensemble)
    assert repr(ensemble) == "<ZooKeeperEnsemble n=2 closed>"
    with pytest.raises(ServerError, match="closed"):
        ensemble.start()
    with pytest.raises(ValueError):
        ZooKeeperEnsemble(0)


@pytest.mark.zookeeper  # starts its own ensemble
def test_tls_ensemble_serves_every_member_over_tls_and_survives_a_dead_leader():
    import os

    import zkservices
    from _util import wait_for

    with ZooKeeperEnsemble(tls=True, client_auth="need") as ensemble:
        assert ensemble.tls is not None and os.path.isfile(ensemble.certificates.ca_file)
        secure = ensemble.secure_connection_string
        assert secure.count(",") == 2 and secure != ensemble.connection_string
        assert all(s.srvr(secure=True).get("Mode") for s in ensemble.servers)  # each member answers over TLS
        assert " tls " in repr(ensemble)
        with zkservices.ZooKeeper(secure, tls=ensemble.tls, session_timeout=10.0) as zk:
            reg = zk.register_server("/svc/providers", "10.0.0.1:80")
            ensemble.leader().kill()
            ensemble.wait_serving(timeout=60)
            zk.properties("/svc").update(after="leader died")  # retried through the election
            wait_for(lambda: zk.exists(reg.paths[0]) is not None, timeout=30, what="the registration")
            assert dict(zk.properties("/svc")) == {"after": "leader died"}
        tls_dir = ensemble.tls_dir
    assert not os.path.exists(tls_dir)  # close removed the certificates


def test_client_auth_needs_tls():
    with pytest.raises(ValueError, match="TLS ensemble"):
        ZooKeeperEnsemble(client_auth="need")
