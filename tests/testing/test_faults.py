"""Faults injected for real: session expiry, dropped connections, a paused server."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry

from zkservices.testing import FaultError, drop_connection, expire_session

from _util import wait_for


class StateRecorder:
    def __init__(self, client):
        self.states = []
        self.lock = threading.Lock()
        client.add_listener(self)

    def __call__(self, state):
        with self.lock:
            self.states.append(state)


def test_expire_session_gives_lost_then_connected_with_new_id(zk_client):
    recorder = StateRecorder(zk_client)
    zk_client.create("/eph", ephemeral=True)
    old = zk_client.client_id[0]
    new = expire_session(zk_client)
    assert new != old
    assert zk_client.client_id[0] == new
    wait_for(lambda: KazooState.CONNECTED in recorder.states, what="CONNECTED")
    assert KazooState.LOST in recorder.states
    assert recorder.states.index(KazooState.LOST) < len(recorder.states) - 1 - recorder.states[::-1].index(KazooState.CONNECTED)
    # the old session's ephemeral node is gone: the session really expired
    assert zk_client.exists("/eph") is None


def test_expire_session_of_a_zookeeper_helper_waits_for_recovery(zk):
    old = zk.client.client_id[0]
    assert expire_session(zk) != old


def test_drop_connection_keeps_session(zk_client):
    recorder = StateRecorder(zk_client)
    zk_client.create("/eph", ephemeral=True)
    old = zk_client.client_id[0]
    drop_connection(zk_client)
    wait_for(lambda: KazooState.SUSPENDED in recorder.states and zk_client.connected, what="reconnect")
    assert KazooState.LOST not in recorder.states
    assert zk_client.client_id[0] == old
    assert zk_client.exists("/eph") is not None


def test_faults_refuse_what_they_cannot_do():
    idle = KazooClient(hosts="127.0.0.1:1")  # never started: refused at once, not waited for
    started = time.monotonic()
    with pytest.raises(FaultError, match="needs a connected client .*not started"):
        expire_session(idle)
    with pytest.raises(FaultError, match="needs a connected client .*not started"):
        drop_connection(idle)
    assert time.monotonic() - started < 5
    with pytest.raises(TypeError):
        expire_session(object())


def _slow_to_reconnect(connection_string, delay):
    # kazoo waits ``delay`` (plus a little jitter) before each reconnection attempt
    client = KazooClient(hosts=connection_string, timeout=10.0,
                         connection_retry=KazooRetry(max_tries=-1, delay=delay, max_delay=delay))
    client.start(timeout=30)
    return client


def test_faults_wait_for_a_reconnecting_client(zk_server):
    # the fault lands on a client that is between connections: each waits for the
    # reconnection (within its timeout) instead of refusing
    client = _slow_to_reconnect(zk_server.connection_string, 1.0)
    recorder = StateRecorder(client)
    try:
        old = client.client_id[0]
        drop_connection(client)
        wait_for(lambda: KazooState.SUSPENDED in recorder.states, what="SUSPENDED")
        assert not client.connected  # reconnecting: the next fault must wait for it
        drop_connection(client)  # waited for the reconnection, then dropped that connection
        wait_for(lambda: recorder.states.count(KazooState.SUSPENDED) == 2, what="second SUSPENDED")
        assert KazooState.LOST not in recorder.states  # the same session throughout
        assert not client.connected
        new = expire_session(client)
        assert new != old and client.client_id[0] == new
        assert KazooState.LOST in recorder.states
    finally:
        client.stop()
        client.close()


def test_faults_give_up_on_a_client_that_does_not_reconnect_in_time(zk_server):
    client = _slow_to_reconnect(zk_server.connection_string, 8.0)
    recorder = StateRecorder(client)
    try:
        drop_connection(client)
        wait_for(lambda: KazooState.SUSPENDED in recorder.states, what="SUSPENDED")
        started = time.monotonic()
        with pytest.raises(FaultError, match="not connected within 0.3s"):
            expire_session(client, timeout=0.3)
        with pytest.raises(FaultError, match="not connected within 0.3s"):
            drop_connection(client, timeout=0.3)
        assert time.monotonic() - started < 5  # the reconnection is ~8 s away
    finally:
        client.stop()
        client.close()


def test_pause_past_session_timeout_expires_session(zk_server):
    # A paused server does not always expire sessions (a reconnect queued during
    # the pause can revive it), so this client does not retry during the pause.
    client = KazooClient(hosts=zk_server.connection_string, timeout=1.0,
                         connection_retry=KazooRetry(max_tries=-1, delay=8.0, max_delay=8.0, ignore_expire=False))
    client.start(timeout=30)
    recorder = StateRecorder(client)
    try:
        client.create("/zkservices-pause-eph", ephemeral=True, makepath=True)
        old = client.client_id[0]
        zk_server.pause()
        assert zk_server.paused
        wait_for(lambda: KazooState.SUSPENDED in recorder.states, what="SUSPENDED")
        time.sleep(1.5)  # longer than the 1 s session timeout
        zk_server.resume()
        wait_for(lambda: KazooState.LOST in recorder.states, timeout=60, what="LOST")
        wait_for(lambda: client.connected and client.client_id[0] != old, timeout=60, what="new session")
        assert client.exists("/zkservices-pause-eph") is None
    finally:
        client.stop()
        client.close()
