"""Views re-armed in bulk (SetWatches) after a connection or session loss: every
change made before, during and after the fault reaches the views, exactly once,
and the fault itself calls no callback."""

from __future__ import annotations

import logging

from kazoo.protocol.states import KazooState

from zkservices.testing import drop_connection, expire_session

from _util import kazoo_client, stop, wait_for

N_PROPS = 300
N_KIDS = 40


def _setup(zk, zk_client):
    transaction = zk_client.transaction()
    transaction.create("/p")
    transaction.create("/k")
    for i in range(N_PROPS):
        transaction.create(f"/p/n{i}", b'{"v":0}')
    for i in range(N_KIDS):
        transaction.create(f"/k/n{i}")
        transaction.create(f"/k/n{i}/c0")
    assert not any(isinstance(r, Exception) for r in transaction.commit())
    prop_calls = {i: [] for i in range(N_PROPS)}
    kid_calls = {i: [] for i in range(N_KIDS)}
    props = [zk.properties(f"/p/n{i}") for i in range(N_PROPS)]
    kids = [zk.children(f"/k/n{i}") for i in range(N_KIDS)]
    for i, view in enumerate(props):
        view(_recorder(prop_calls[i], lambda d: d.get("v")))
    for i, view in enumerate(kids):
        view(_recorder(kid_calls[i], sorted))
    return props, kids, prop_calls, kid_calls


def _recorder(calls, what):
    def record(view):
        calls.append(what(view))
    return record


def _change_all_after(zk_client, props, kids, prop_calls, kid_calls, value):
    """Change every node once more; every view must see it."""
    transaction = zk_client.transaction()
    for i in range(N_PROPS):
        transaction.set_data(f"/p/n{i}", b'{"v":%d}' % value)
    for i in range(N_KIDS):
        transaction.create(f"/k/n{i}/after{value}")
    assert not any(isinstance(r, Exception) for r in transaction.commit())
    wait_for(lambda: all(calls[-1] == value for calls in prop_calls.values()), what="every property view sees it")
    wait_for(lambda: all(f"after{value}" in calls[-1] for calls in kid_calls.values()),
             what="every children view sees it")


def _rearmed_in_bulk(caplog) -> int:
    return sum(int(r.getMessage().split()[1]) for r in caplog.records
               if r.name == "zkservices.views" and r.getMessage().startswith("re-armed"))


def test_many_views_survive_expiry_with_changes_during_it(zk, zk_client, zk_connection_string, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices.views")
    props, kids, prop_calls, kid_calls = _setup(zk, zk_client)
    writer = kazoo_client(zk_connection_string)
    changed = [i for i in range(N_PROPS) if i % 7 == 0]
    grown = [i for i in range(N_KIDS) if i % 5 == 0]
    gone = N_PROPS - 1

    def on_lost(state):  # before the new session exists: changes "during" the fault
        if state == KazooState.LOST:
            transaction = writer.transaction()
            for i in changed:
                transaction.set_data(f"/p/n{i}", b'{"v":1}')
            for i in grown:
                transaction.create(f"/k/n{i}/during")
            transaction.delete(f"/p/n{gone}")
            transaction.commit_async()
            return True

    zk.client.add_listener(on_lost)
    try:
        expire_session(zk)
    finally:
        zk.client.remove_listener(on_lost)
    wait_for(lambda: all(prop_calls[i][-1] == 1 for i in changed), what="changes during the expiry seen")
    wait_for(lambda: all(kid_calls[i][-1] == ["c0", "during"] for i in grown), what="children added during it")
    wait_for(lambda: props[gone].deleted, what="the node deleted during the expiry")
    assert _rearmed_in_bulk(caplog) > 0  # the bulk path ran, not only reads
    # the fault itself was no change: one call at first, one per real change
    for i in range(N_PROPS - 1):
        assert prop_calls[i] == ([0, 1] if i in changed else [0]), i
    for i in range(N_KIDS):
        assert kid_calls[i] == ([["c0"], ["c0", "during"]] if i in grown else [["c0"]]), i
    props.pop()
    prop_calls.pop(gone)
    writer.create(f"/p/n{gone}", b'{"v":2}')  # so the change-all below can set it
    _change_all_after(zk_client, props, kids, prop_calls, kid_calls, 2)
    stop(writer)


def test_many_views_survive_a_dropped_connection(zk, zk_client, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices.views")
    props, kids, prop_calls, kid_calls = _setup(zk, zk_client)
    session = zk.core.session_id
    epoch = zk.core.watches.epoch
    drop_connection(zk)
    wait_for(lambda: zk.core.watches.epoch > epoch and zk.core.client.connected, what="reconnected")
    wait_for(lambda: _rearmed_in_bulk(caplog) >= N_PROPS + N_KIDS, what="views re-armed in bulk")
    assert zk.core.session_id == session
    assert all(calls == [0] for calls in prop_calls.values())
    _change_all_after(zk_client, props, kids, prop_calls, kid_calls, 3)
    assert all(calls == [0, 3] for calls in prop_calls.values())


def test_two_losses_in_a_row_lose_no_change(zk, zk_client):
    props, kids, prop_calls, kid_calls = _setup(zk, zk_client)
    expire_session(zk)
    zk_client.set("/p/n3", b'{"v":4}')  # between the two losses
    expire_session(zk)
    wait_for(lambda: prop_calls[3][-1] == 4, what="a change between two expiries")
    assert prop_calls[3] == [0, 4] and prop_calls[4] == [0]
    _change_all_after(zk_client, props, kids, prop_calls, kid_calls, 5)


def test_a_kazoo_without_the_internals_recovers_by_reading(zk, zk_client, monkeypatch, caplog):
    # rewatch uses kazoo internals; where they are missing (another kazoo) views read instead
    from zkservices._session import rewatch as rewatch_module

    monkeypatch.setattr(rewatch_module, "supported", lambda client: False)
    caplog.set_level(logging.DEBUG, logger="zkservices.views")
    props, kids, prop_calls, kid_calls = _setup(zk, zk_client)
    expire_session(zk)
    zk_client.set("/p/n5", b'{"v":6}')
    wait_for(lambda: prop_calls[5][-1] == 6, what="a change after the expiry")
    assert _rearmed_in_bulk(caplog) == 0  # nothing went the SetWatches way
    assert prop_calls[5] == [0, 6] and prop_calls[6] == [0]
    _change_all_after(zk_client, props, kids, prop_calls, kid_calls, 7)
