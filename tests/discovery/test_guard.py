"""What a server set publishes and the shrink guard, without ZooKeeper."""

from __future__ import annotations

import logging

import pytest

from zkservices._discovery.guard import PublishedSet, shrink_refused


def providers(n: int) -> dict:
    return {f"10.0.0.{i}:80": {"host": f"10.0.0.{i}", "port": 80} for i in range(1, n + 1)}


@pytest.mark.parametrize(
    "new, last, min_fraction, force, refused",
    [
        (1, 4, 0.5, False, True),
        (2, 4, 0.5, False, False),  # half is not below half
        (0, 1, 0.5, False, True),  # the last provider leaving
        (0, 0, 0.5, False, False),
        (5, 4, 0.5, False, False),
        (1, 4, 0.5, True, False),  # forced
        (0, 4, 0.0, False, False),  # disabled
        (3, 4, 1.0, False, True),
    ],
)
def test_shrink_refused(new, last, min_fraction, force, refused):
    assert shrink_refused(new, last, min_fraction=min_fraction, force=force) is refused


def test_offer_publishes_refuses_and_recovers(caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.serverset")
    published = PublishedSet("/svc", min_fraction=0.5, force=False)
    assert published.seen() is None and published.stale and "not ready" in repr(published)
    assert published.offer({"balance": "first"}, providers(4)) is True
    assert published.ready.is_set() and not published.stale and len(published.providers) == 4
    assert published.seen() == ({"balance": "first"}, providers(4), False)
    assert published.offer({"balance": "first"}, providers(4)) is False  # nothing changed

    # 4 -> 1: refused, but the property change goes through
    assert published.offer({"balance": "leastconn"}, providers(1)) is False
    assert published.refused == (1, 4) and published.stale
    assert published.providers == providers(4) and published.properties == {"balance": "leastconn"}
    assert sum("shrink guard" in r.getMessage() for r in caplog.records) == 1
    published.offer({"balance": "leastconn"}, providers(1))  # the same refusal is logged once
    assert sum("shrink guard" in r.getMessage() for r in caplog.records) == 1

    # recovery above the line
    assert published.offer({"balance": "leastconn"}, providers(2)) is True
    assert published.refused is None and published.providers == providers(2) and not published.stale
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_trouble_makes_it_stale_until_the_next_offer():
    published = PublishedSet("/svc", min_fraction=0.5, force=False)
    published.offer({}, providers(2))
    published.connected = False  # what the ServerSet does when the session is in trouble
    assert published.stale
    published.offer({}, providers(2))
    assert not published.stale


def test_holding_says_why_the_set_is_held_back():
    published = PublishedSet("/svc", min_fraction=0.5, force=False)
    assert published.holding(session_connected=False) == "ZooKeeper unreachable"
    assert published.holding(session_connected=True) == "reading ZooKeeper"
    published.offer({}, providers(4))
    assert published.holding(session_connected=True) is None
    published.offer({}, providers(1))
    assert published.holding(session_connected=True) == "shrink guard: 1 of 4 provider(s)"
    published.connected = False
    assert published.holding(session_connected=False) == "ZooKeeper unreachable"
    served = PublishedSet("/svc", min_fraction=0.5, force=False, snapshot_entry={"properties": {}, "providers": {}})
    served.use_snapshot()
    served.connected = True  # connected, but nothing read from ZooKeeper yet
    assert served.holding(session_connected=True) == "waiting for ZooKeeper data"


def test_the_snapshot_is_served_and_is_the_guards_baseline():
    entry = {"saved": None, "properties": {"balance": "first"}, "providers": providers(3)}
    published = PublishedSet("/svc", min_fraction=0.5, force=False, snapshot_entry=entry)
    assert published.use_snapshot() is True
    assert published.ready.is_set() and published.from_snapshot and published.stale
    assert published.providers == providers(3) and published.properties == {"balance": "first"}
    assert published.use_snapshot() is False  # only before anything else is published

    # ZooKeeper comes back empty: the snapshot's set is kept
    fresh = PublishedSet("/svc", min_fraction=0.5, force=False, snapshot_entry=entry)
    assert fresh.offer({}, {}) is False
    assert fresh.refused == (0, 3) and fresh.providers == providers(3) and fresh.from_snapshot
    forced = PublishedSet("/svc", min_fraction=0.5, force=True, snapshot_entry=entry)
    assert forced.offer({}, {}) is True and forced.providers == {} and not forced.stale
