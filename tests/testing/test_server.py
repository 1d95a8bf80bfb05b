"""ZooKeeperServer: a real server process, its lifecycle, readiness and log forwarding."""

from __future__ import annotations

import logging

import pytest
from kazoo.client import KazooClient

from zkservices._session.rebuilt import server_zxid
from zkservices.testing import ServerError, ZooKeeperServer, four_letter_word
from zkservices.testing.serverlog import LINE_PATTERN

from _util import wait_for

pytestmark = pytest.mark.zookeeper  # some tests here start servers of their own


def test_server_answers_srvr_standalone(zk_server):
    assert zk_server.mode == "standalone"
    assert zk_server.connection_string.startswith("127.0.0.1:")
    assert "running" in repr(zk_server)


def test_server_log_lines_reach_python_logging(caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices.server")
    with ZooKeeperServer(name="logcheck") as server:
        wait_for(lambda: any("binding to port" in r.getMessage() for r in caplog.records
                             if r.name == "zkservices.server"), what="the server's bind log line")
        assert server.log_tail(200)
    # (the session's shared server may log meanwhile too: only this server's records count)
    ours = [r for r in caplog.records if r.name == "zkservices.server" and r.getMessage().startswith("logcheck: ")]
    assert ours
    assert all(r.getMessage().startswith("logcheck: [") or not r.getMessage().startswith("logcheck: 20")
               for r in ours)  # parsed lines lose their timestamp prefix
    assert {logging.INFO} <= {r.levelno for r in ours}
    assert all(r.zookeeper_server == "logcheck" for r in ours)


def test_stop_start_restart_keep_data(tmp_path):
    with ZooKeeperServer() as server:
        client = KazooClient(hosts=server.connection_string)
        client.start()
        client.create("/kept", b"data")
        client.stop()
        client.close()
        server.restart()
        assert server.mode == "standalone"
        client = KazooClient(hosts=server.connection_string)
        client.start()
        try:
            assert client.get("/kept")[0] == b"data"
        finally:
            client.stop()
            client.close()
        pid = server.pid
        server.kill()
        assert not server.running and pid is not None
        assert server.returncode == -9
    assert "closed" in repr(server)
    assert server.closed


def test_failed_start_reports_log_tail(tmp_path):
    # A classpath without the server classes: java exits, and the error carries its output.
    server = ZooKeeperServer(classpath=str(tmp_path), startup_timeout=20)
    with pytest.raises(ServerError) as info:
        server.start()
    server.close()
    assert "exited with code" in str(info.value)
    assert "QuorumPeerMain" in str(info.value)  # java's own complaint, from the log tail


def test_port_in_use_is_refused_not_mistaken_for_ready(zk_server):
    second = ZooKeeperServer(port=zk_server.port, startup_timeout=20)
    try:
        with pytest.raises(ServerError, match="in use"):
            second.start()
    finally:
        second.close()
    assert zk_server.mode == "standalone"


def test_lifecycle_constructed_started_closed(tmp_path):
    server = ZooKeeperServer(data_dir=str(tmp_path))
    assert "stopped" in repr(server) and not server.running and server.mode is None
    assert (tmp_path / "zoo.cfg").read_text().count(f"clientPort={server.port}") == 1
    server.start()
    assert server.running and server.mode == "standalone"
    server.pause()
    assert server.paused and "paused" in repr(server)
    server.resume()
    server.wait_serving()
    server.close()
    server.close()  # idempotent
    assert server.closed and not server.running and "closed" in repr(server)
    assert tmp_path.exists()  # a data directory we were given is kept
    with pytest.raises(ServerError, match="closed"):
        server.start()


def test_a_server_with_its_default_whitelist_answers_srvr_alone():
    # ZooKeeper 3.8 and 3.9 alike allow srvr alone unless told otherwise: what the
    # session's rebuilt-server probe asks works on a server configured by default
    with ZooKeeperServer(four_letter_words=None, name="default4lw") as server:
        assert "4lw.commands.whitelist" not in open(f"{server.base_dir}/zoo.cfg").read()
        assert server.mode == "standalone" and server.version is not None
        assert isinstance(server_zxid(server.host, server.port), int)
        for word in ("mntr", "ruok", "stat"):
            answer = four_letter_word(server.host, server.port, word)
            assert answer == f"{word} is not executed because it is not in the whitelist.\n", (server.version, answer)
    with ZooKeeperServer(four_letter_words="srvr,ruok", name="some4lw") as server:
        assert four_letter_word(server.host, server.port, "ruok") == "imok"
        assert "not in the whitelist" in four_letter_word(server.host, server.port, "mntr")


def test_every_log_line_of_the_server_parses(zk_server):
    # 3.8 logs through log4j, 3.9 through logback: both print the one layout LINE_PATTERN reads,
    # a class's simple name where it logged (logback's %C{1} would abbreviate packages: o.a.z.s.X)
    lines = [line for line in zk_server.log_tail(200).splitlines() if line[:2] == "20"]
    assert lines, zk_server.log_tail(20)
    for line in lines:
        match = LINE_PATTERN.match(line)
        assert match, line
        thread, _, where = match.group("where").rpartition(":")
        assert thread and "." not in where.split("@")[0], (zk_server.version, line)
