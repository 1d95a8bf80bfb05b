"""Connecting in the background: to a real ZooKeeper, to nothing, to a bad address."""

from __future__ import annotations

import threading

import pytest

from zkservices._discovery import BackgroundConnection

from _netutil import free_port
from _util import wait_for

WAIT = 30.0


def test_connects_calls_back_and_closes_its_session(zk_connection_string):
    seen = []
    called = threading.Event()
    connection = BackgroundConnection(zk_connection_string)
    assert "not started" in repr(connection) and not connection.done
    connection.add_done_callback(lambda c: (seen.append(c), called.set()))
    with connection:
        assert called.wait(WAIT)
        assert seen == [connection] and connection.done and connection.error is None
        zk = connection.zk
        assert zk is not None and zk.connected and "connected" in repr(connection)
        late = []
        connection.add_done_callback(late.append)  # already done: called at once
        assert late == [connection]
    assert connection.closed and zk.closed and "closed" in repr(connection)
    with pytest.raises(RuntimeError):
        connection.start()


def test_keeps_trying_until_closed(caplog):
    connection = BackgroundConnection(f"127.0.0.1:{free_port()}", attempt_timeout=0.5).start()
    try:
        wait_for(lambda: any("does not answer; still trying" in r.getMessage() for r in caplog.records), WAIT,
                 "the first failed attempt logged")
        assert not connection.done and "connecting" in repr(connection)
    finally:
        connection.close(timeout=WAIT)
    assert not connection.running  # the connecting thread has ended
    assert connection.zk is None and "closed" in repr(connection)


def test_a_permanent_error_ends_it():
    called = threading.Event()
    connection = BackgroundConnection("127.0.0.1:notaport")
    connection.add_done_callback(lambda c: called.set())
    with connection:
        assert called.wait(WAIT)
        assert connection.done and connection.zk is None
        assert isinstance(connection.exception, ValueError)
        assert connection.error.startswith("cannot connect to ZooKeeper at 127.0.0.1:notaport: ValueError")
        assert "failed" in repr(connection)
