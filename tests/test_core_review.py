"""Adversarial and fault cases found in review of the core (real servers, no mocks)."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

import zkservices
from zkservices import BadPropertyLink
from zkservices.testing import drop_connection, expire_session

from _util import kazoo_client, props, stop, wait_for


def test_property_link_target_deleted_and_recreated_is_followed(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads"}')
    calls = []

    @zk.properties("/svc")
    def changed(data):
        try:
            calls.append(data["threads"])
        except BadPropertyLink:
            calls.append("bad")

    zk_client.delete("/cms")
    wait_for(lambda: calls[-1:] == ["bad"], what="link dangles")
    zk_client.create("/cms", b'{"threads":7}')
    wait_for(lambda: calls[-1:] == [7], timeout=10, what="link target re-created")
    zk_client.set("/cms", b'{"threads":8}')
    wait_for(lambda: calls[-1:] == [8], timeout=10, what="change of re-created target")


def test_unrelated_update_works_while_another_property_link_dangles(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads","a":1}')
    data = zk.properties("/svc")
    zk_client.delete("/cms")
    wait_for(lambda: "bad" == _read(data, "threads"), what="link dangles")
    data.update(a=2)
    assert props(zk_client, "/svc") == {"threads =>": "../cms threads", "a": 2}
    with pytest.raises(BadPropertyLink):
        data.update({"threads =>": "../nowhere threads"})


def _read(data, key):
    try:
        return data[key]
    except BadPropertyLink:
        return "bad"


def test_no_error_logs_on_normal_reconnect_and_expiry(zk, zk_client, caplog):
    caplog.set_level(logging.DEBUG)
    zk_client.create("/svc", b'{"a":1}')
    data = zk.properties("/svc")
    kids = zk.children("/svc")
    data(lambda d: None)
    kids(lambda k: None)
    zk.register_server("/svc/providers", ("10.0.0.1", 80))
    drop_connection(zk)
    wait_for(lambda: zk.connected, what="reconnect")
    zk_client.set("/svc", b'{"a":2}')
    wait_for(lambda: data["a"] == 2, what="view after reconnect")
    expire_session(zk)
    zk_client.set("/svc", b'{"a":3}')
    wait_for(lambda: data["a"] == 3, what="view after expiry")
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def test_write_that_breaks_a_property_link_is_still_refused(zk, zk_client):
    zk_client.create("/svc", b'{"b":1,"a =>":". b"}')
    data = zk.properties("/svc")
    assert data["a"] == 1
    with pytest.raises(BadPropertyLink):
        del data["b"]  # would leave 'a =>' dangling
    assert props(zk_client, "/svc") == {"b": 1, "a =>": ". b"}


def test_ln_on_a_node_with_a_dangling_property_link(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads"}')
    zk_client.delete("/cms")
    zk_client.create("/real")
    zk.ln("/real", "/svc/alias")
    assert zk.resolve("/svc/alias") == "/real"


def test_many_threads_of_one_session_update_and_set_lose_nothing(zk, zk_client):
    zk_client.create("/shared", b"{}")
    data = zk.properties("/shared")
    calls = []
    data(lambda d: calls.append(dict(d)))
    errors = []
    barrier = threading.Barrier(8)

    def writer(i):
        try:
            barrier.wait()
            for j in range(10):
                data.update({f"k{i}-{j}": j})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(props(zk_client, "/shared")) == 80
    assert len(data) == 80  # own writes settled


def test_close_from_inside_a_callback(zk_connection_string, zk_client):
    zk_client.create("/svc", b'{"a":1}')
    zk = zkservices.ZooKeeper(zk_connection_string)
    reg = zk.register_server("/svc/providers", "10.0.0.1:80")
    data = zk.properties("/svc")
    seen = []

    def closer(d):
        seen.append(d.get("a"))
        if d.get("a") == 2:
            zk.close()

    data(closer)
    data(lambda d: seen.append("second"))
    zk_client.set("/svc", b'{"a":2}')
    wait_for(lambda: zk.closed, what="closed from the callback")
    wait_for(lambda: zk_client.exists(reg.paths[0]) is None, what="registration gone")
    zk.close()
    # the view was closed by the first callback: the second is not called after it
    assert seen == [1, "second", 2]
    assert not any(t.name.startswith("zkservices-worker") and t.is_alive() and str(id(zk)) in t.name
                   for t in threading.enumerate())


def test_callback_registers_another_view_from_the_worker(zk, zk_client):
    zk_client.create("/svc", b'{"a":1}')
    zk_client.create("/other", b'{"b":1}')
    inner = []
    views = []

    @zk.properties("/svc")
    def changed(d):
        if d["a"] == 2 and not views:
            v = zk.properties("/other")
            v(lambda o: inner.append(o["b"]))
            views.append(v)
            v.update(b=5)  # a write from the worker must not wait for the worker

    zk_client.set("/svc", b'{"a":2}')
    wait_for(lambda: inner[-1:] == [5], what="inner view sees its own write")
    zk_client.set("/other", b'{"b":6}')
    wait_for(lambda: inner[-1:] == [6], what="inner view follows changes")


def test_unregister_whose_lookup_loses_the_connection_stays_gone(zk_server, zk_connection_string, zk_client):
    zk = zkservices.ZooKeeper(zk_connection_string)
    errors = []

    def unregister():
        try:
            zk.unregister("/svc/providers", "10.0.0.1:80")
        except Exception as exc:
            errors.append(exc)

    try:
        reg = zk.register_server("/svc/providers", "10.0.0.1:80")
        zk_server.pause()
        t = threading.Thread(target=unregister)
        t.start()
        # unregister's lookup is sent and unanswered; the connection drops under it
        wait_for(lambda: len(zk.client._pending) > 0, what="request in flight")
        drop_connection(zk)
        wait_for(lambda: not reg.active or errors, what="unregister marks the registration")
        zk_server.resume()
        t.join(30)
        assert not errors and not reg.active
        expire_session(zk)
        assert zk_client.get_children("/svc/providers") == []
    finally:
        if zk_server.paused:
            zk_server.resume()
        zk.close()


def test_close_during_recovery_leaves_no_registration_behind(zk_connection_string, zk_client):
    # With client= the kazoo session outlives close(): a restore that was
    # still running re-created nodes after close() had deleted them.
    for delay in (0.0, 0.004):
        kz = kazoo_client(zk_connection_string)
        zk = zkservices.ZooKeeper(client=kz)
        for i in range(300):
            zk.register_server("/svc/providers", f"10.0.{i // 256}.{i % 256}:80")
        old_session, password = kz.client_id

        def close_on_new_session(state):
            if state == "CONNECTED" and kz.client_id and kz.client_id[0] != old_session:
                threading.Thread(target=lambda: (time.sleep(delay), zk.close())).start()
                return True  # remove this listener

        kz.add_listener(close_on_new_session)
        clone = kazoo_client(zk_connection_string.split("/")[0], client_id=(old_session, password))
        stop(clone)  # expires the session
        wait_for(lambda: zk.closed, what="closed during recovery")
        try:
            wait_for(lambda: zk_client.get_children("/svc/providers") == [], timeout=10,
                     what="every registration gone after close")
        finally:
            stop(kz)


def test_unregister_after_close_is_a_no_op(zk_connection_string, zk_client):
    zk = zkservices.ZooKeeper(zk_connection_string)
    reg = zk.register_server("/svc/providers", "10.0.0.1:80")
    zk.close()
    reg.unregister()
    assert not reg.active and zk_client.get_children("/svc/providers") == []
def test_deleted_then_link_retargeted(zk, zk_client):
    zk_client.create("/blue", b'{"v":"blue"}')
    zk_client.create("/green", b'{"v":"green"}')
    zk_client.create("/links", b'{"cur ->":"/blue"}')
    d = zk.properties("/links/cur")
    k = zk.children("/links/cur")
    zk_client.delete("/blue")
    wait_for(lambda: d.deleted and k.deleted, what="deleted")
    zk_client.set("/links", b'{"cur ->":"/green"}')
    wait_for(lambda: not d.deleted and d.get("v") == "green", timeout=5, what="follows retargeted link")
    wait_for(lambda: not k.deleted and k.real_path == "/green", timeout=5, what="children follows")


def test_follower_paused_under_a_client_views_converge(zk_ensemble):
    root = f"/follower-pause-{uuid.uuid4().hex[:8]}"
    leader = zk_ensemble.leader()
    follower = next(s for s in zk_ensemble.servers if s is not leader)
    other = kazoo_client(",".join(s.connection_string for s in zk_ensemble.servers if s is not follower))
    other.create(root + "/conf", b'{"v":0}', makepath=True)
    other.create(root + "/blue", b'{"w":"blue"}')
    other.create(root + "/green", b'{"w":"green"}')
    other.set(root, b'{"cur ->":"blue"}')
    zk = None
    try:
        for _ in range(30):  # kazoo picks a member at random: want the follower
            zk = zkservices.ZooKeeper(zk_ensemble.connection_string, session_timeout=4.0)
            if zk.client._connection._socket.getpeername()[1] == follower.port:
                break
            zk.close()
        reg = zk.register_server(root + "/providers", "10.9.9.9:80")
        data, kids, cur = zk.properties(root + "/conf"), zk.children(root + "/conf"), zk.properties(root + "/cur")
        calls = []
        data(lambda d: calls.append(d.get("v")))
        follower.pause()
        try:
            other.delete(root + "/conf")
            other.create(root + "/conf", b'{"v":2}')
            other.create(root + "/conf/kid")
            other.delete(root + "/blue")
            other.set(root, b'{"cur ->":"green"}')
            time.sleep(3.0)  # past the client's read timeout: it moves to another member
        finally:
            follower.resume()
        wait_for(lambda: dict(data) == {"v": 2} and not data.deleted, what="properties converge")
        wait_for(lambda: list(kids) == ["kid"], what="children converge")
        wait_for(lambda: dict(cur) == {"w": "green"}, what="view follows the re-targeted link")
        wait_for(lambda: other.exists(reg.paths[0]) is not None, what="registration kept")
        assert calls[0] == 0 and calls[-1] == 2
        data.update(v=3)
        assert props(other, root + "/conf") == {"v": 3}
    finally:
        if zk is not None:
            zk.close()
        other.delete(root, recursive=True)
        stop(other)


def test_wait_recovered_returns_after_close_during_recovery(zk_connection_string):
    import threading as _threading

    import zkservices
    from kazoo.protocol.states import KazooState
    from zkservices.testing import expire_session

    zk = zkservices.ZooKeeper(zk_connection_string)
    zk.register_server("/svc", "10.0.0.9:1")
    closed = _threading.Event()

    def on_state(state):
        if state == KazooState.LOST and not closed.is_set():
            closed.set()
            _threading.Thread(target=zk.close).start()  # close while recovery is due

    zk.client.add_listener(on_state)
    try:
        expire_session(zk, timeout=5)
    except Exception:
        pass  # the client may be closed before it holds a new session
    closed.wait(30)
    assert zk.wait_recovered(10) is True
