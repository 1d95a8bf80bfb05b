"""A rebuilt server (restarted with its data wiped) is joined with a fresh session,
not retried forever: registrations restored, views re-read, an ERROR says why."""

from __future__ import annotations

import logging

import pytest

import zkservices
from zkservices._session.rebuilt import server_zxid
from zkservices.testing import ZooKeeperServer

from _util import kazoo_client, stop, wait_for

pytestmark = pytest.mark.zookeeper


def test_server_zxid_reads_srvr_and_is_none_where_nothing_answers(zk_server):
    host, port = zk_server.connection_string.split(",")[0].rsplit(":", 1)
    assert isinstance(server_zxid(host, int(port)), int)
    assert server_zxid("127.0.0.1", 1) is None


def test_a_wiped_server_is_rejoined_with_registrations_and_views_restored(caplog):
    caplog.set_level(logging.INFO, logger="zkservices")
    with ZooKeeperServer() as server:
        server.start()
        with zkservices.ZooKeeper(server.connection_string, session_timeout=20.0) as zk:
            reg = zk.register_server("/svc/providers", "10.0.0.1:80", weight=1)
            for i in range(30):  # this client has now seen transactions the new server will not have
                zk.properties("/svc").update(n=i)
            calls = []
            zk.children("/svc/providers")(lambda names: calls.append(sorted(names)))
            assert calls == [["10.0.0.1:80"]]
            old_session = zk.client.client_id[0]

            server.restart(wipe_data=True)

            other = kazoo_client(server.connection_string)
            try:
                wait_for(lambda: other.exists(reg.paths[0]) is not None, timeout=30,
                         what="the registration on the rebuilt server")
                owner = other.exists(reg.paths[0]).ephemeralOwner
                assert owner == zk.client.client_id[0] != old_session
            finally:
                stop(other)
            assert zk.wait_recovered(30)
            errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "zkservices.session"]
            assert errors and "rebuilt" in errors[0].getMessage()
            # the view follows the new server: its one provider is back, and a new one shows
            zk.register_server("/svc/providers", "10.0.0.2:80")
            wait_for(lambda: calls[-1] == ["10.0.0.1:80", "10.0.0.2:80"], what="the view on the rebuilt server")


def test_a_wiped_tls_server_is_probed_over_tls_and_rejoined(caplog):
    # the session knows only the secure port: the probe must speak TLS there
    caplog.set_level(logging.INFO, logger="zkservices")
    with ZooKeeperServer(tls=True) as server:
        cs = server.secure_connection_string
        assert server_zxid("127.0.0.1", int(cs.rsplit(":", 1)[1])) is None  # plaintext gets no answer
        with zkservices.ZooKeeper(cs, tls=server.tls, session_timeout=20.0) as zk:
            reg = zk.register_server("/svc/providers", "10.0.0.1:80")
            for i in range(30):
                zk.properties("/svc").update(n=i)
            old_session = zk.client.client_id[0]

            server.restart(wipe_data=True)

            wait_for(lambda: zk.client.client_id[0] != old_session and zk.wait_recovered(0), timeout=40,
                     what="a fresh session on the rebuilt TLS server")
            assert zk.exists(reg.paths[0]) is not None
            assert zk.properties("/svc") == {}  # the rebuilt server has none of the old data
            errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "zkservices.session"]
            assert errors and "rebuilt" in errors[0].getMessage()


def test_a_server_restored_from_an_older_snapshot_is_read_again_not_trusted(caplog):
    # The views saw data newer than the restored server has: re-arming their watches
    # "as of the last zxid seen" would keep that data; they must read the node again.
    import shutil

    caplog.set_level(logging.INFO, logger="zkservices")
    with ZooKeeperServer() as server:
        server.start()
        setup = kazoo_client(server.connection_string)
        try:
            setup.create("/svc", b'{"v": "old"}')
        finally:
            stop(setup)
        server.stop()
        backup = server.data_dir + ".backup"
        shutil.copytree(server.data_dir, backup)
        server.start()
        with zkservices.ZooKeeper(server.connection_string, session_timeout=20.0) as zk:
            view = zk.properties("/svc")
            zk.children("/svc")
            view.update(v="new")
            for i in range(30):  # this client has now seen transactions the restored server will not have
                view.update(n=i)
            assert view["v"] == "new"
            old_session = zk.client.client_id[0]

            server.stop()
            shutil.rmtree(server.data_dir)
            shutil.copytree(backup, server.data_dir)
            server.start()

            wait_for(lambda: zk.client.client_id[0] != old_session and zk.wait_recovered(0), timeout=40,
                     what="a fresh session on the restored server")
            wait_for(lambda: view.get("v") == "old", timeout=10, what="the view to read the restored data")
            assert zk.get_properties("/svc") == {"v": "old"}
