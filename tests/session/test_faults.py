"""Faults for real: session expiry, dropped connections, a killed leader, concurrent writers.

These are the tests issue 3 demands.  Callbacks record every call in a list;
after each fault the lists are compared exactly with the real changes made,
so a callback that runs for a non-change (or misses a change) fails the test.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry

import zkservices
from zkservices.testing import drop_connection, expire_session

from _util import kazoo_client, props, stop, wait_for
import time


def _owner(client, path):
    stat = client.exists(path)
    return stat.ephemeralOwner if stat else None


def _marker(other, path, calls, n):
    """Make one real change (a child named marker-n) and wait until the callback saw it."""
    other.create(f"{path}/marker-{n}")
    wait_for(lambda: calls and f"marker-{n}" in calls[-1], what=f"marker-{n} seen by the callback")


# -- session expiry ---------------------------------------------------------


def test_session_expiry_restores_registrations_views_and_callbacks(zk, zk_client, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices")
    reg1 = zk.register_server("/svc/providers", "10.0.0.1:80", weight=1)
    reg2 = zk.register_server("/svc/providers", ("::1", 81))
    zk_client.set("/svc", b'{"v":1}')
    kids, data, node_data = zk.children("/svc/providers"), zk.properties("/svc"), zk.properties(reg1.paths[0])
    kid_calls, data_calls, node_calls = [], [], []
    kids(lambda v: kid_calls.append(sorted(v)))
    data(lambda d: data_calls.append(dict(d)))
    node_data(lambda d: node_calls.append(dict(d)))
    assert kid_calls == [["10.0.0.1:80", "[::1]:81"]]
    old = zk.client.client_id[0]

    new = expire_session(zk)

    assert new != old
    for path in reg1.paths + reg2.paths:
        wait_for(lambda path=path: _owner(zk_client, path) == zk.client.client_id[0] == new,
                 what=f"{path} owned by the new session")
    assert props(zk_client, reg1.paths[0])["weight"] == 1
    # views equal the server's truth
    wait_for(lambda: sorted(kids) == sorted(zk_client.get_children("/svc/providers")), what="children view")
    wait_for(lambda: dict(data) == props(zk_client, "/svc"), what="properties view")
    assert not node_data.deleted and node_data["weight"] == 1
    # a real change after the fault: exactly one more call each; the fault itself was no change
    _marker(zk_client, "/svc/providers", kid_calls, 1)
    zk_client.set("/svc", b'{"v":2}')
    wait_for(lambda: data_calls[-1] == {"v": 2}, what="v=2")
    assert kid_calls == [["10.0.0.1:80", "[::1]:81"], ["10.0.0.1:80", "[::1]:81", "marker-1"]]
    assert data_calls == [{"v": 1}, {"v": 2}]
    zk.set("/svc", b'{"v":2}')  # settles zk's worker; same content: no call
    assert len(node_calls) == 1 and len(data_calls) == 2
    # logged: the loss, and each restoration naming host:port
    messages = [(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("zkservices.")]
    assert any("lost" in m.lower() for _, m in messages)
    assert any("re-registered" in m and "10.0.0.1:80" in m for _, m in messages)
    assert any("re-registered" in m and "[::1]:81" in m for _, m in messages)


def test_change_during_expiry_calls_callbacks_once(zk, zk_client, zk_connection_string):
    zk_client.create("/conf", b'{"v":1}')
    zk_client.create("/kids")
    data, kids = zk.properties("/conf"), zk.children("/kids")
    data_calls, kid_calls = [], []
    data(lambda d: data_calls.append(dict(d)))
    kids(lambda v, change: kid_calls.append((sorted(v), change)))
    writer = kazoo_client(zk_connection_string)

    def on_lost(state):  # runs before the new session exists: a change "during" the fault
        if state == KazooState.LOST:
            writer.set("/conf", b'{"v":2}')
            writer.create("/kids/during")
            return True  # remove this listener

    zk.client.add_listener(on_lost)
    try:
        expire_session(zk)
        wait_for(lambda: dict(data) == {"v": 2} and list(kids) == ["during"], what="views caught up")
        _marker(zk_client, "/kids", _KidNames(kid_calls), 1)
    finally:
        zk.client.remove_listener(on_lost)
        stop(writer)
    assert data_calls == [{"v": 1}, {"v": 2}]
    assert [names for names, _ in kid_calls] == [[], ["during"], ["during", "marker-1"]]
    assert kid_calls[1][1] == zkservices.ChildrenChange(frozenset({"during"}), frozenset())


class _KidNames:
    """A live list of the names lists of a 2-argument callback's records (for _marker)."""

    def __init__(self, calls):
        self.calls = calls

    def __bool__(self):
        return bool(self.calls)

    def __getitem__(self, i):
        return self.calls[i][0]


def test_expiry_replaces_a_node_another_session_put_at_the_registration_path(zk, zk_client, zk_connection_string):
    reg = zk.register_server("/svc", "10.0.0.2:80", role="primary")
    (path,) = reg.paths
    expected = props(zk_client, path)
    intruder = kazoo_client(zk_connection_string)
    squatted = threading.Event()

    def on_lost(state):
        # LOST is reported before kazoo establishes the new session, so this
        # node is there (owned by another session) when registrations are restored.
        if state == KazooState.LOST:
            intruder.create(path, b'{"intruder":true}', ephemeral=True)
            squatted.set()
            return True

    zk.client.add_listener(on_lost)
    try:
        new = expire_session(zk)
        assert squatted.is_set()
        wait_for(lambda: _owner(zk_client, path) == new, what="the node taken over by zk's new session")
        assert props(zk_client, path) == expected
        assert zk.client.client_id[0] == new
    finally:
        zk.client.remove_listener(on_lost)
        stop(intruder)
    # the intruder's session ended: our node stays
    assert _owner(zk_client, path) == zk.client.client_id[0]
    assert props(zk_client, path) == expected


def test_expiry_after_unregister_keeps_the_node_gone(zk, zk_client):
    gone = zk.register_server("/svc", "10.0.0.3:1")
    stays = zk.register_server("/svc", "10.0.0.3:2")
    other_gone = zk.register_server("/svc", "10.0.0.3:3")
    gone.unregister()
    zk.unregister("/svc", "10.0.0.3:3")
    assert not other_gone.active
    new = expire_session(zk)
    wait_for(lambda: _owner(zk_client, stays.paths[0]) == new, what="the kept registration restored")
    # restoration is one batch: the unregistered ones would be back by now
    assert zk_client.get_children("/svc") == ["10.0.0.3:2"]


def test_data_written_to_registration_survives_reregistration(zk, zk_client):
    reg = zk.register_server("/svc", "10.0.0.4:80", weight=1)
    (path,) = reg.paths
    zk.properties(path).update(weight=5)
    zk.properties(path, watch=False).update(zone="b")
    assert props(zk_client, path)["weight"] == 5
    new = expire_session(zk)
    wait_for(lambda: _owner(zk_client, path) == new, what="re-registration")
    data = props(zk_client, path)
    assert data["weight"] == 5 and data["zone"] == "b" and data["host"] == "10.0.0.4"


def test_operator_change_to_registration_survives_expiry_and_reconnect(zk, zk_client):
    # An operator drains a server by writing its registration node from another
    # session; neither a dropped connection nor a session expiry may undo that.
    reg = zk.register_server("/svc/providers", ("10.0.0.7", 80), weight=3)
    node = reg.paths[0]
    data = props(zk_client, node)
    data["weight"] = 0
    zk_client.set(node, json.dumps(data).encode())
    drop_connection(zk)
    wait_for(lambda: zk.connected)
    data["weight"] = -1  # a second operator change, after the reconnect
    zk_client.set(node, json.dumps(data).encode())
    wait_for(lambda: zk.registrar.data_of(node) == json.dumps(data).encode(), what="tracked data")
    expire_session(zk)
    assert props(zk_client, node)["weight"] == -1
    assert _owner(zk_client, node) == zk.client.client_id[0]


def test_two_expiries_in_a_row(zk, zk_client):
    reg = zk.register_server("/svc", "10.0.0.5:80")
    kids = zk.children("/svc")
    calls = []
    kids(lambda v: calls.append(sorted(v)))
    expire_session(zk)
    final = expire_session(zk)
    wait_for(lambda: _owner(zk_client, reg.paths[0]) == final, what="registration under the latest session")
    assert zk_client.get_children("/svc") == ["10.0.0.5:80"]
    _marker(zk_client, "/svc", calls, 1)
    assert calls == [["10.0.0.5:80"], ["10.0.0.5:80", "marker-1"]]


def test_registration_made_right_after_expiry_is_kept(zk, zk_client):
    zk.register_server("/svc", "10.0.0.6:1")
    new = expire_session(zk)
    # registering while the restore may still be running
    late = zk.register_server("/svc", "10.0.0.6:2")
    wait_for(lambda: _owner(zk_client, "/svc/10.0.0.6:1") == new, what="restored")
    assert _owner(zk_client, late.paths[0]) == new
    assert sorted(zk_client.get_children("/svc")) == ["10.0.0.6:1", "10.0.0.6:2"]


def test_expiry_with_parents_deleted_during_the_fault(zk, zk_client, zk_connection_string):
    reg = zk.register_server("/deep/svc/providers", "10.0.0.7:80")
    writer = kazoo_client(zk_connection_string)

    def on_lost(state):
        if state == KazooState.LOST:  # the old ephemeral is gone already: take the parents too
            writer.delete("/deep", recursive=True)
            return True

    zk.client.add_listener(on_lost)
    try:
        new = expire_session(zk)
        wait_for(lambda: _owner(zk_client, reg.paths[0]) == new, what="re-created with its parents")
    finally:
        zk.client.remove_listener(on_lost)
        stop(writer)
    assert props(zk_client, reg.paths[0])["host"] == "10.0.0.7"


def test_node_deleted_during_expiry(zk, zk_client, zk_connection_string):
    zk_client.create("/doomed", b'{"a":1}')
    data = zk.properties("/doomed")
    calls = []
    data(lambda *args: calls.append(args))
    writer = kazoo_client(zk_connection_string)

    def on_lost(state):
        if state == KazooState.LOST:
            writer.delete("/doomed")
            return True

    zk.client.add_listener(on_lost)
    try:
        expire_session(zk)
        wait_for(lambda: data.deleted, what="view sees the deletion")
    finally:
        zk.client.remove_listener(on_lost)
        stop(writer)
    zk_client.create("/doomed", b'{"a":2}')
    # the view's content changes before its callbacks are called: wait for the call
    wait_for(lambda: not data.deleted and data.get("a") == 2 and len(calls) >= 3, what="watching resumed")
    assert calls == [(data,), (), (data,)]


def test_expiry_keeps_auth_and_default_acl(zk_connection_string, zk_client):
    with zkservices.ZooKeeper(zk_connection_string, auth=[("digest", "svc:secret")]) as zk:
        reg = zk.register_server("/secure", "10.0.0.8:80", weight=1)
        (path,) = reg.paths
        new = expire_session(zk)
        wait_for(lambda: _owner(zk_client, path) == new, what="re-registered")
        acl, _ = zk_client.get_acls(path)
        assert {a.id.scheme for a in acl} == {"world", "digest"}
        zk.properties(path).update(weight=2)  # still the owner, re-authenticated
        assert props(zk_client, path)["weight"] == 2
        with pytest.raises(NoAuthError):
            zk_client.set(path, b"{}")


# -- dropped connections ----------------------------------------------------


def test_drop_connection_session_survives_views_keep_updating(zk, zk_client):
    reg = zk.register_server("/svc", "10.0.1.1:80")
    kids = zk.children("/svc")
    calls = []
    kids(lambda v: calls.append(sorted(v)))
    session = zk.client.client_id[0]
    states = []
    zk.client.add_listener(lambda s: states.append(s))
    drop_connection(zk)
    wait_for(lambda: KazooState.SUSPENDED in states and zk.connected, what="reconnect")
    assert zk.client.client_id[0] == session
    assert KazooState.LOST not in states
    assert _owner(zk_client, reg.paths[0]) == session
    # a change from another session after the reconnect is seen
    _marker(zk_client, "/svc", calls, 1)
    assert list(kids) == ["10.0.1.1:80", "marker-1"]
    assert calls == [["10.0.1.1:80"], ["10.0.1.1:80", "marker-1"]]


def test_change_made_while_disconnected_is_seen_after_reconnect(zk, zk_client, zk_connection_string):
    zk_client.create("/conf", b'{"v":1}')
    zk_client.create("/kids")
    data, kids = zk.properties("/conf"), zk.children("/kids")
    data_calls, kid_calls = [], []
    data(lambda d: data_calls.append(dict(d)))
    kids(lambda v: kid_calls.append(sorted(v)))
    writer = kazoo_client(zk_connection_string)
    changed = threading.Event()

    def on_suspended(state):
        # called on zk's connection thread right after the connection broke and
        # before it reconnects: this change is made while zk is disconnected
        if state == KazooState.SUSPENDED:
            writer.set("/conf", b'{"v":2}')
            writer.create("/kids/offline")
            changed.set()
            return True

    zk.client.add_listener(on_suspended)
    try:
        drop_connection(zk)
        wait_for(changed.is_set, what="the change while disconnected")
        wait_for(lambda: dict(data) == {"v": 2} and list(kids) == ["offline"], what="views caught up")
    finally:
        zk.client.remove_listener(on_suspended)
        stop(writer)
    _marker(zk_client, "/kids", kid_calls, 1)
    assert data_calls == [{"v": 1}, {"v": 2}]
    assert kid_calls == [[], ["offline"], ["marker-1", "offline"]]


def test_linked_node_still_watched_after_expiry_and_reconnect(zk, zk_client):
    zk_client.create("/cms", b'{"threads":1}')
    zk_client.create("/svc", b'{"threads =>":"../cms"}')
    zk.ln("/cms", "/svc/cms-link")
    data, through_link = zk.properties("/svc"), zk.properties("/svc/cms-link")
    calls, link_calls = [], []
    data(lambda d: calls.append(d["threads"]))
    through_link(lambda d: link_calls.append(d["threads"]))
    expire_session(zk)
    zk_client.set("/cms", b'{"threads":2}')
    wait_for(lambda: calls[-1] == 2 and link_calls[-1] == 2, what="linked change after expiry")
    drop_connection(zk)
    wait_for(lambda: zk.connected, what="reconnect")
    zk_client.set("/cms", b'{"threads":3}')
    wait_for(lambda: calls[-1] == 3 and link_calls[-1] == 3, what="linked change after reconnect")
    assert calls == [1, 2, 3] and link_calls == [1, 2, 3]


def test_bad_property_link_is_no_change_after_faults(zk, zk_client):
    """A stored bad link (or link loop) reads the same after a reconnect or an
    expiry: the callbacks must not run for it."""
    zk_client.create("/n", b'{"a":1,"x =>":"/missing","y =>":". y"}')
    data = zk.properties("/n")
    calls = []
    data(lambda d: calls.append(d["a"]))
    states = []
    zk.client.add_listener(states.append)
    drop_connection(zk)
    wait_for(lambda: KazooState.SUSPENDED in states and zk.connected, what="reconnect")
    zk_client.set("/n", b'{"a":2,"x =>":"/missing","y =>":". y"}')
    wait_for(lambda: calls[-1] == 2, what="a=2")
    expire_session(zk)
    zk_client.set("/n", b'{"a":3,"x =>":"/missing","y =>":". y"}')
    wait_for(lambda: calls[-1] == 3, what="a=3")
    assert calls == [1, 2, 3]
    with pytest.raises(zkservices.BadPropertyLink):
        data["x"]
    with pytest.raises(zkservices.LinkLoop):
        data["y"]


def test_server_paused_and_resumed_views_catch_up(zk_server, zk_connection_string):
    """A pause shorter than the session timeout: the session and its registration survive."""
    zk = zkservices.ZooKeeper(zk_connection_string, session_timeout=10.0)
    other = None
    try:
        reg = zk.register_server("/svc", "10.0.1.2:80")
        kids = zk.children("/svc")
        session = zk.client.client_id[0]
        zk_server.pause()
        try:
            wait_for(lambda: not zk.connected, timeout=30, what="zk notices the pause")
        finally:
            zk_server.resume()
        wait_for(lambda: zk.connected, what="zk reconnected")
        other = kazoo_client(zk_connection_string)
        other.create("/svc/after")
        wait_for(lambda: sorted(kids) == ["10.0.1.2:80", "after"], what="view after the pause")
        wait_for(lambda: _owner(other, reg.paths[0]) == zk.client.client_id[0], what="registration present")
        assert zk.client.client_id[0] == session
    finally:
        if other is not None:
            stop(other)
        zk.close()


# -- a killed leader --------------------------------------------------------


def _connected_to(connection_string, port, attempts=20):
    """A ZooKeeper on the ensemble whose connection is to the member on ``port``
    (kazoo picks a member at random; peeking at its socket is test-only)."""
    for _ in range(attempts):
        zk = zkservices.ZooKeeper(connection_string)
        if zk.client._connection._socket.getpeername()[1] == port:
            return zk
        zk.close()
    raise AssertionError(f"never connected to the member on port {port}")


def test_leader_killed_views_converge_no_registration_lost(zk_ensemble):
    root = f"/leader-kill-{uuid.uuid4().hex[:8]}"
    leader = zk_ensemble.leader()
    zk = _connected_to(zk_ensemble.connection_string, leader.port)
    other = kazoo_client(zk_ensemble.connection_string,
                         connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
    retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=30)
    try:
        regs = [zk.register_server(f"{root}/providers", f"10.0.2.{i}:80", n=i) for i in range(3)]
        other.create(root + "/conf", b'{"v":0}')
        kids, data = zk.children(f"{root}/providers"), zk.properties(root + "/conf")
        kid_calls, data_calls = [], []
        kids(lambda v: kid_calls.append(sorted(v)))
        data(lambda d: data_calls.append(d["v"]))
        leader.kill()
        retry(other.create, f"{root}/providers/extra", b"")
        retry(other.set, root + "/conf", b'{"v":1}')
        expected = sorted([f"10.0.2.{i}:80" for i in range(3)] + ["extra"])
        # a view sets its state before it calls its callbacks: the waits include the calls
        wait_for(lambda: sorted(kids) == expected and kid_calls[-1:] == [expected], what="children converge")
        wait_for(lambda: dict(data) == {"v": 1} and data_calls[-1:] == [1], what="properties converge")
        for reg in regs:
            wait_for(lambda reg=reg: retry(other.exists, reg.paths[0]) is not None, what=f"{reg.paths[0]} kept")
        assert sorted(retry(other.get_children, f"{root}/providers")) == expected
        assert data_calls == [0, 1]
        assert kid_calls[0] == expected[:3] and kid_calls[-1] == expected
        # the helper still writes after the election
        data.update(v=2)
        assert json.loads(retry(other.get, root + "/conf")[0]) == {"v": 2}
    finally:
        zk.close()
        try:
            retry(other.delete, root, recursive=True)
        finally:
            stop(other)


# -- concurrency --------------------------------------------------------------


def test_ten_sessions_updating_one_node_lose_nothing(zk_connection_string, zk_client):
    zk_client.create("/shared", b"{}")
    errors = []
    barrier = threading.Barrier(10)

    def writer(i):
        try:
            with zkservices.ZooKeeper(zk_connection_string) as zk:
                data = zk.properties("/shared", watch=False)
                barrier.wait(30)
                for j in range(50):
                    data.update({f"w{i}-{j}": j})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    final = props(zk_client, "/shared")
    assert len(final) == 500
    assert final == {f"w{i}-{j}": j for i in range(10) for j in range(50)}


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
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("zkservices")]
    assert not bad, [r.getMessage() for r in bad]


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
        zk_server.pause()  # (returns once the server is stopped: the lookup cannot be answered)
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
        wait_for(lambda: dict(data) == {"v": 2} and not data.deleted and calls[-1] == 2,
                 what="properties converge (and the callback heard it)")
        wait_for(lambda: list(kids) == ["kid"], what="children converge")
        wait_for(lambda: dict(cur) == {"w": "green"}, what="view follows the re-targeted link")
        wait_for(lambda: other.exists(reg.paths[0]) is not None, what="registration kept")
        assert calls[0] == 0 and calls[-1] == 2
        data.update(v=3)
        # another session reads what its own server has applied: a follower that was not in
        # the write's quorum (the resumed one may have acked instead) can be a moment behind;
        # sync first, as ZooKeeper's consistency guarantees require for a read after another
        # session's write
        other.sync(root + "/conf")
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
